//! An idle stream reader must not keep its parsing buffers: tens of thousands of idle
//! connections each hold one. Measured with a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use tandem_xmpp::stream::{ReaderLimits, StreamReader};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn idle_reader_between_stanzas_holds_little() {
    let before = LIVE.load(Ordering::SeqCst);
    let mut reader = StreamReader::new(ReaderLimits::default());
    reader.push(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='x' version='1.0'>").unwrap();
    reader.push(b"<presence/>").unwrap();
    reader
        .push(b"<message to='a@b'><body>hello</body></message>")
        .unwrap();
    while reader.poll_event().is_some() {}
    let held = LIVE.load(Ordering::SeqCst) - before;
    assert!(held < 2048, "an idle reader holds {held} bytes");
    drop(reader);
}
