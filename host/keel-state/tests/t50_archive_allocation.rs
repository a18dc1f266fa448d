//! A snapshot archive whose tar header claims far more data than it holds
//! is refused without allocating what the header claims: memory grows with
//! the bytes that arrive.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use keel_state::archive;

/// The system allocator, remembering the largest single allocation.
struct Largest;

static LARGEST_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST_BYTES.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the layout is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST_BYTES.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// A gzipped tar holding one `meta.json` header that claims `claimed_bytes`,
/// followed by only a few bytes of data.
fn lying_archive(claimed_bytes: u64) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    header.set_path("meta.json").expect("a short name");
    header.set_size(claimed_bytes);
    header.set_mode(0o644);
    header.set_cksum();
    let mut tar = header.as_bytes().to_vec();
    tar.extend_from_slice(b"{\"only\": \"a few bytes\"}");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&tar).expect("writing to memory");
    gzip.finish().expect("writing to memory")
}

#[test]
fn a_header_claiming_a_large_file_allocates_only_what_arrives() {
    let claimed_bytes: u64 = 256 * 1024 * 1024;
    let archive = lying_archive(claimed_bytes);
    assert!(archive.len() < 1024, "the archive is tiny: {} bytes", archive.len());
    LARGEST_BYTES.store(0, Ordering::Relaxed);
    let refused = archive::read(&archive, 512 * 1024 * 1024);
    let largest = LARGEST_BYTES.load(Ordering::Relaxed);
    assert!(largest < 1024 * 1024, "reading a {}-byte archive allocated {largest} bytes at once", archive.len());
    assert!(refused.is_err(), "the file is cut short");
}
