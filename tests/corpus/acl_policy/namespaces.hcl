# Nomad's example: read everywhere, write in one namespace.
namespace "default" {
  policy       = "read"
  capabilities = ["submit-job", "dispatch-job", "read-logs"]
}

namespace "prod-*" {
  policy = "deny"
}

node {
  policy = "read"
}

agent {
  policy = "write"
}

operator {
  policy = "read"
}

quota {
  policy = "read"
}

host_volume "shared-*" {
  policy = "write"
}

plugin {
  policy = "list"
}
