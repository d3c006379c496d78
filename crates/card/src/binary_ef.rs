//! Transparent (binary) EFs with a fixed capacity.

use jpki_apdu::StatusWord;

/// The content of a transparent EF. The EF has a fixed capacity; its content length is
/// the highest byte ever written (bytes never written below it read as `00`).
pub(crate) struct BinaryEf {
    capacity: usize,
    content: Vec<u8>,
}

impl BinaryEf {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            content: Vec::new(),
        }
    }

    pub(crate) fn content(&self) -> &[u8] {
        &self.content
    }

    /// Replaces the whole content (loading a card file).
    pub(crate) fn restore(&mut self, content: Vec<u8>) -> Result<(), String> {
        if content.len() > self.capacity {
            return Err(format!(
                "{} bytes do not fit an EF of {} bytes",
                content.len(),
                self.capacity
            ));
        }
        self.content = content;
        Ok(())
    }

    /// UPDATE BINARY at `offset`.
    pub(crate) fn update(&mut self, offset: usize, data: &[u8]) -> Result<(), StatusWord> {
        if offset >= self.capacity {
            return Err(StatusWord::WrongP1P2);
        }
        let end = offset
            .checked_add(data.len())
            .filter(|&end| end <= self.capacity)
            .ok_or(StatusWord::NotEnoughMemory)?;
        if self.content.len() < end {
            self.content.resize(end, 0);
        }
        let target = self
            .content
            .get_mut(offset..end)
            .ok_or(StatusWord::NoPreciseDiagnosis)?;
        target.copy_from_slice(data);
        Ok(())
    }
}

/// READ BINARY over `content`: up to `ne` bytes from `offset`. At the end of the content
/// the answer is empty; beyond it, `6B 00`. Fewer bytes than `ne` remaining is not an
/// error: the rest comes back with `90 00` (JPKI-FACTS §1.5, the clients stop on a short
/// or empty answer).
pub(crate) fn read(content: &[u8], offset: usize, ne: usize) -> Result<Vec<u8>, StatusWord> {
    if offset > content.len() {
        return Err(StatusWord::WrongP1P2);
    }
    let end = offset.saturating_add(ne).min(content.len());
    content
        .get(offset..end)
        .map(<[u8]>::to_vec)
        .ok_or(StatusWord::NoPreciseDiagnosis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_grows_to_the_highest_byte_written() {
        let mut ef = BinaryEf::new(8);
        ef.update(4, &[1, 2]).unwrap();
        assert_eq!(ef.content(), &[0, 0, 0, 0, 1, 2]);
        ef.update(0, &[9]).unwrap();
        assert_eq!(ef.content(), &[9, 0, 0, 0, 1, 2]);
        assert_eq!(ef.update(8, &[1]), Err(StatusWord::WrongP1P2));
        assert_eq!(ef.update(7, &[1, 2]), Err(StatusWord::NotEnoughMemory));
        ef.update(7, &[7]).unwrap();
        assert_eq!(ef.content().len(), 8);
        assert!(ef.restore(vec![0; 9]).is_err());
    }

    #[test]
    fn reads_stop_at_the_end() {
        let content = [1, 2, 3];
        assert_eq!(read(&content, 0, 256).unwrap(), vec![1, 2, 3]);
        assert_eq!(read(&content, 1, 1).unwrap(), vec![2]);
        assert_eq!(read(&content, 3, 256).unwrap(), Vec::<u8>::new());
        assert_eq!(read(&content, 4, 1), Err(StatusWord::WrongP1P2));
        assert_eq!(read(&content, usize::MAX, 1), Err(StatusWord::WrongP1P2));
    }
}
