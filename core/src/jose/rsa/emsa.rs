//! The EMSA-PKCS1-v1_5 encoding check (RFC 8017 §9.2).

/// The hash functions RS256/384/512 use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The DER `DigestInfo` prefix of RFC 8017 §9.2 note 1, with the NULL parameters written
    /// out. The form without NULL is refused: the RFC's prefixes are exact.
    const fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlgorithm::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlgorithm::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlgorithm::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// The digest length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

/// Whether `em` (the public-key operation's output, exactly the modulus length) is
/// `00 01 FF..FF 00 || DigestInfo || digest` with at least eight `FF` bytes.
pub(crate) fn is_valid_encoding(em: &[u8], hash: HashAlgorithm, digest: &[u8]) -> bool {
    let prefix = hash.digest_info_prefix();
    if digest.len() != hash.output_len() {
        return false;
    }
    let t_len = prefix.len() + digest.len();
    let Some(padding_len) = em.len().checked_sub(3 + t_len) else {
        return false;
    };
    if padding_len < 8 {
        return false;
    }
    let (head, rest) = em.split_at(2);
    let (padding, rest) = rest.split_at(padding_len);
    let (separator, rest) = rest.split_at(1);
    let (digest_info, hash_value) = rest.split_at(prefix.len());
    head == [0x00, 0x01]
        && padding.iter().all(|byte| *byte == 0xff)
        && separator == [0x00]
        && digest_info == prefix
        && hash_value == digest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(k: usize, hash: HashAlgorithm, digest: &[u8]) -> [u8; 256] {
        let mut em = [0xffu8; 256];
        let prefix = hash.digest_info_prefix();
        let em = &mut em[..k];
        em[0] = 0;
        em[1] = 1;
        let start = k - prefix.len() - digest.len();
        em[start - 1] = 0;
        em[start..start + prefix.len()].copy_from_slice(prefix);
        em[start + prefix.len()..].copy_from_slice(digest);
        let mut out = [0u8; 256];
        out[..k].copy_from_slice(em);
        out
    }

    #[test]
    fn accepts_exact_encoding_and_refuses_each_byte_flip() {
        let digest = [0xabu8; 64];
        let em = encode(256, HashAlgorithm::Sha512, &digest);
        assert!(is_valid_encoding(&em, HashAlgorithm::Sha512, &digest));
        for index in 0..256 {
            let mut bad = em;
            bad[index] ^= 0x01;
            assert!(
                !is_valid_encoding(&bad, HashAlgorithm::Sha512, &digest),
                "{index}"
            );
        }
        assert!(!is_valid_encoding(
            &em,
            HashAlgorithm::Sha256,
            &digest[..32]
        ));
    }

    #[test]
    fn refuses_short_padding() {
        let digest = [7u8; 32];
        // 3 + 19 + 32 + 8 = 62 bytes is the shortest valid encoding.
        let em = encode(62, HashAlgorithm::Sha256, &digest);
        assert!(is_valid_encoding(&em[..62], HashAlgorithm::Sha256, &digest));
        let em = encode(61, HashAlgorithm::Sha256, &digest);
        assert!(!is_valid_encoding(
            &em[..61],
            HashAlgorithm::Sha256,
            &digest
        ));
    }
}
