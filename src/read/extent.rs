//! Streaming a file that a medium stores as a list of extents.

use std::io::{self, Read, Seek, SeekFrom};

/// `Read + Seek`, usable as a trait object.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// One piece of a file's contents, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// `len` bytes starting at byte `offset` of the medium.
    Data { offset: u64, len: u64 },
    /// `len` zero bytes that are not recorded on the medium.
    Zeros { len: u64 },
    /// Bytes held in the medium's metadata itself (UDF embedded data).
    Inline(Vec<u8>),
}

impl Piece {
    pub fn len(&self) -> u64 {
        match self {
            Piece::Data { len, .. } | Piece::Zeros { len } => *len,
            Piece::Inline(b) => b.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads a file's pieces lazily from the medium, in order: only the bytes
/// asked for are read, and at most one buffer's worth at a time. It yields
/// exactly `size` bytes, or an error when the pieces run out first or run
/// past the end of the medium.
pub struct ExtentReader<R> {
    src: R,
    src_len: u64,
    pieces: Vec<Piece>,
    size: u64,
    name: String,
    idx: usize,
    in_piece: u64,
    done: u64,
    positioned: bool,
}

impl<R: Read + Seek> ExtentReader<R> {
    /// `src_len` is the medium's length; `name` names the file in errors.
    pub fn new(src: R, src_len: u64, pieces: Vec<Piece>, size: u64, name: &str) -> Self {
        ExtentReader {
            src,
            src_len,
            pieces,
            size,
            name: name.to_string(),
            idx: 0,
            in_piece: 0,
            done: 0,
            positioned: false,
        }
    }

    fn err(&self, msg: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{}: {msg}", self.name),
        )
    }
}

impl<R: Read + Seek> Read for ExtentReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if buf.is_empty() || self.done >= self.size {
                return Ok(0);
            }
            let Some(piece) = self.pieces.get(self.idx) else {
                return Err(self.err(format!(
                    "its extents hold {} of its {} bytes",
                    self.done, self.size
                )));
            };
            let plen = piece.len();
            if self.in_piece >= plen {
                self.idx += 1;
                self.in_piece = 0;
                self.positioned = false;
                continue;
            }
            let want = (buf.len() as u64)
                .min(plen - self.in_piece)
                .min(self.size - self.done) as usize;
            let n = match piece {
                Piece::Data { offset, .. } => {
                    let at = offset.saturating_add(self.in_piece);
                    if at >= self.src_len {
                        return Err(self.err(format!(
                            "an extent runs past the end of the medium ({} bytes) at byte {at}",
                            self.src_len
                        )));
                    }
                    let want = want.min((self.src_len - at).min(usize::MAX as u64) as usize);
                    if !self.positioned {
                        self.src.seek(SeekFrom::Start(at))?;
                        self.positioned = true;
                    }
                    let n = loop {
                        match self.src.read(&mut buf[..want]) {
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            r => break r?,
                        }
                    };
                    if n == 0 {
                        return Err(self.err(format!(
                            "the medium ends at byte {at}, inside one of its extents"
                        )));
                    }
                    n
                }
                Piece::Zeros { .. } => {
                    buf[..want].fill(0);
                    want
                }
                Piece::Inline(b) => {
                    let start = self.in_piece as usize;
                    buf[..want].copy_from_slice(&b[start..start + want]);
                    want
                }
            };
            self.in_piece += n as u64;
            self.done += n as u64;
            return Ok(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read_all<R: Read>(mut r: R) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        r.read_to_end(&mut v)?;
        Ok(v)
    }

    #[test]
    fn pieces_are_concatenated_in_order() {
        let medium: Vec<u8> = (0..=255u8).collect();
        let pieces = vec![
            Piece::Data { offset: 10, len: 3 },
            Piece::Zeros { len: 2 },
            Piece::Inline(vec![7, 7]),
            Piece::Data { offset: 0, len: 2 },
        ];
        let r = ExtentReader::new(Cursor::new(&medium), 256, pieces, 9, "f");
        assert_eq!(read_all(r).unwrap(), vec![10, 11, 12, 0, 0, 7, 7, 0, 1]);
    }

    #[test]
    fn stops_at_the_declared_size() {
        let medium = vec![1u8; 100];
        let pieces = vec![Piece::Data {
            offset: 0,
            len: 100,
        }];
        let r = ExtentReader::new(Cursor::new(&medium), 100, pieces, 40, "f");
        assert_eq!(read_all(r).unwrap().len(), 40);
    }

    #[test]
    fn short_pieces_and_short_media_are_errors() {
        let medium = vec![1u8; 100];
        let r = ExtentReader::new(
            Cursor::new(&medium),
            100,
            vec![Piece::Data { offset: 0, len: 10 }],
            20,
            "f",
        );
        let e = read_all(r).unwrap_err();
        assert!(e.to_string().contains("10 of its 20"), "{e}");
        let r = ExtentReader::new(
            Cursor::new(&medium),
            100,
            vec![Piece::Data {
                offset: 90,
                len: 20,
            }],
            20,
            "f",
        );
        let e = read_all(r).unwrap_err();
        assert!(e.to_string().contains("past the end"), "{e}");
    }
}
