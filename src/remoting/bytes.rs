//! A bounds-checked big-endian reader over a byte slice, for the two binary layouts the broker
//! sends: the ROCKETMQ request/response header (`frame.rs`) and a stored message (`message.rs`).
//! Every read fails cleanly on bytes cut short, naming what did not fit; the caller wraps the
//! reason in its own error.

pub(super) struct ByteReader<'a> {
    buf: &'a [u8],
}

impl<'a> ByteReader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        ByteReader { buf }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(super) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if n > self.buf.len() {
            return Err(format!("{what}: needs {n} bytes, {} left", self.buf.len()));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(super) fn skip(&mut self, n: usize, what: &str) -> Result<(), String> {
        self.take(n, what).map(|_| ())
    }

    pub(super) fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(super) fn i16(&mut self, what: &str) -> Result<i16, String> {
        self.array(what).map(i16::from_be_bytes)
    }

    pub(super) fn u16(&mut self, what: &str) -> Result<u16, String> {
        self.array(what).map(u16::from_be_bytes)
    }

    pub(super) fn i32(&mut self, what: &str) -> Result<i32, String> {
        self.array(what).map(i32::from_be_bytes)
    }

    pub(super) fn i64(&mut self, what: &str) -> Result<i64, String> {
        self.array(what).map(i64::from_be_bytes)
    }

    /// `n` bytes of UTF-8 text.
    pub(super) fn str(&mut self, n: usize, what: &str) -> Result<&'a str, String> {
        std::str::from_utf8(self.take(n, what)?).map_err(|_| format!("{what}: not UTF-8"))
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        Ok(self.take(N, what)?.try_into().expect("take returns N bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_names_what_was_cut_short() {
        let mut r = ByteReader::new(&[0, 1, 0xff, 0xfe, b'h', b'i', 0]);
        assert_eq!(r.i16("a"), Ok(1));
        assert_eq!(r.u16("b"), Ok(0xfffe));
        assert_eq!(r.str(2, "c"), Ok("hi"));
        assert_eq!(r.i32("d"), Err("d: needs 4 bytes, 1 left".to_string()));
        assert_eq!(r.u8("e"), Ok(0));
        assert!(r.is_empty());
    }
}
