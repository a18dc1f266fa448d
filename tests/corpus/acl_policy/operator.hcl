operator { policy = "write" }
agent { policy = "read" } /* one-line blocks */
// and a comment
