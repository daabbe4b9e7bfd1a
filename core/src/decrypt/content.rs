//! Content decryption (RFC 7518 §5): AES-CBC with HMAC-SHA-2, and AES-GCM, through RustCrypto.
//!
//! Both check the authentication tag, in constant time, before a single byte is decrypted;
//! every failure is the same [`Error::DecryptionFailed`], so nothing tells a caller whether
//! the key, the tag, the padding or a length was wrong.

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::consts::U12;
use aes_gcm::{AesGcm, KeyInit as _};
#[cfg(feature = "alloc")]
use cbc::cipher::BlockModeEncrypt;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use crate::error::Error;
use crate::jose::jwe_algorithm::ContentEncryption;

const FAILED: Error = Error::DecryptionFailed;

/// Decrypts `buffer` (the ciphertext) in place with `enc` under `key`, authenticating `aad`,
/// `iv` and `tag`; returns the plaintext's length (at the front of `buffer`). `buffer` is left
/// untouched unless the tag verifies.
pub(crate) fn decrypt(
    enc: ContentEncryption,
    key: &[u8],
    aad: &[u8],
    iv: &[u8],
    tag: &[u8],
    buffer: &mut [u8],
) -> Result<usize, Error> {
    if key.len() != enc.key_len() || iv.len() != enc.iv_len() || tag.len() != enc.tag_len() {
        return Err(FAILED);
    }
    match enc {
        ContentEncryption::A128CbcHs256 => {
            cbc_hmac_decrypt::<Aes128, Hmac<Sha256>>(key, aad, iv, tag, buffer)
        }
        ContentEncryption::A192CbcHs384 => {
            cbc_hmac_decrypt::<Aes192, Hmac<Sha384>>(key, aad, iv, tag, buffer)
        }
        ContentEncryption::A256CbcHs512 => {
            cbc_hmac_decrypt::<Aes256, Hmac<Sha512>>(key, aad, iv, tag, buffer)
        }
        ContentEncryption::A128Gcm => gcm_decrypt::<Aes128>(key, aad, iv, tag, buffer),
        ContentEncryption::A192Gcm => gcm_decrypt::<Aes192>(key, aad, iv, tag, buffer),
        ContentEncryption::A256Gcm => gcm_decrypt::<Aes256>(key, aad, iv, tag, buffer),
    }
}

/// The authentication tag of CBC-HMAC (RFC 7518 §5.2.2.1): HMAC over the AAD, the IV, the
/// ciphertext and the AAD's length in bits, 64-bit big-endian.
fn cbc_hmac_mac<M: Mac + hmac::digest::KeyInit>(
    mac_key: &[u8],
    aad: &[u8],
    iv: &[u8],
    ciphertext: &[u8],
) -> Result<M, Error> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(mac_key).map_err(|_| FAILED)?;
    let aad_bits = u64::try_from(aad.len())
        .ok()
        .and_then(|len| len.checked_mul(8))
        .ok_or(FAILED)?;
    mac.update(aad);
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(&aad_bits.to_be_bytes());
    Ok(mac)
}

fn cbc_hmac_decrypt<C, M>(
    key: &[u8],
    aad: &[u8],
    iv: &[u8],
    tag: &[u8],
    buffer: &mut [u8],
) -> Result<usize, Error>
where
    cbc::Decryptor<C>: KeyIvInit + BlockModeDecrypt,
    C: cbc::cipher::BlockCipherDecrypt,
    M: Mac + hmac::digest::KeyInit,
{
    let (mac_key, enc_key) = key.split_at(key.len() / 2);
    // Encrypt-then-MAC: the tag first, in constant time; nothing is decrypted without it.
    cbc_hmac_mac::<M>(mac_key, aad, iv, buffer)?
        .verify_truncated_left(tag)
        .map_err(|_| FAILED)?;
    let decryptor = cbc::Decryptor::<C>::new_from_slices(enc_key, iv).map_err(|_| FAILED)?;
    decryptor
        .decrypt_padded::<Pkcs7>(buffer)
        .map(<[u8]>::len)
        .map_err(|_| FAILED)
}

fn gcm_decrypt<C>(
    key: &[u8],
    aad: &[u8],
    iv: &[u8],
    tag: &[u8],
    buffer: &mut [u8],
) -> Result<usize, Error>
where
    AesGcm<C, U12>: aes_gcm::KeyInit + AeadInOut<NonceSize = U12>,
{
    let cipher = AesGcm::<C, U12>::new_from_slice(key).map_err(|_| FAILED)?;
    let nonce = aes_gcm::Nonce::<U12>::try_from(iv).map_err(|_| FAILED)?;
    let tag = aes_gcm::Tag::try_from(tag).map_err(|_| FAILED)?;
    cipher
        .decrypt_inout_detached(&nonce, aad, buffer.into(), &tag)
        .map_err(|_| FAILED)?;
    Ok(buffer.len())
}

#[cfg(feature = "alloc")]
/// Encrypts the first `len` bytes of `buffer` in place with `enc` under `key`, authenticating
/// `aad`; `buffer` must have room for the padding (16 bytes more for CBC). Returns the
/// ciphertext's length and writes the tag into `tag` (`enc.tag_len()` bytes).
pub(crate) fn encrypt(
    enc: ContentEncryption,
    key: &[u8],
    aad: &[u8],
    iv: &[u8],
    buffer: &mut [u8],
    len: usize,
    tag: &mut [u8],
) -> Result<usize, Error> {
    if key.len() != enc.key_len() || iv.len() != enc.iv_len() || tag.len() != enc.tag_len() {
        return Err(Error::InvalidConfiguration);
    }
    match enc {
        ContentEncryption::A128CbcHs256 => {
            cbc_hmac_encrypt::<Aes128, Hmac<Sha256>>(key, aad, iv, buffer, len, tag)
        }
        ContentEncryption::A192CbcHs384 => {
            cbc_hmac_encrypt::<Aes192, Hmac<Sha384>>(key, aad, iv, buffer, len, tag)
        }
        ContentEncryption::A256CbcHs512 => {
            cbc_hmac_encrypt::<Aes256, Hmac<Sha512>>(key, aad, iv, buffer, len, tag)
        }
        ContentEncryption::A128Gcm => gcm_encrypt::<Aes128>(key, aad, iv, &mut buffer[..len], tag),
        ContentEncryption::A192Gcm => gcm_encrypt::<Aes192>(key, aad, iv, &mut buffer[..len], tag),
        ContentEncryption::A256Gcm => gcm_encrypt::<Aes256>(key, aad, iv, &mut buffer[..len], tag),
    }
}

#[cfg(feature = "alloc")]
fn cbc_hmac_encrypt<C, M>(
    key: &[u8],
    aad: &[u8],
    iv: &[u8],
    buffer: &mut [u8],
    len: usize,
    tag: &mut [u8],
) -> Result<usize, Error>
where
    cbc::Encryptor<C>: KeyIvInit + BlockModeEncrypt,
    C: cbc::cipher::BlockCipherEncrypt,
    M: Mac + hmac::digest::KeyInit,
{
    let (mac_key, enc_key) = key.split_at(key.len() / 2);
    let encryptor = cbc::Encryptor::<C>::new_from_slices(enc_key, iv)
        .map_err(|_| Error::InvalidConfiguration)?;
    let ciphertext_len = encryptor
        .encrypt_padded::<Pkcs7>(buffer, len)
        .map_err(|_| Error::BufferTooSmall)?
        .len();
    let mac = cbc_hmac_mac::<M>(mac_key, aad, iv, &buffer[..ciphertext_len])?.finalize();
    let full = mac.into_bytes();
    tag.copy_from_slice(&full[..tag.len()]);
    Ok(ciphertext_len)
}

#[cfg(feature = "alloc")]
fn gcm_encrypt<C>(
    key: &[u8],
    aad: &[u8],
    iv: &[u8],
    buffer: &mut [u8],
    tag: &mut [u8],
) -> Result<usize, Error>
where
    AesGcm<C, U12>: aes_gcm::KeyInit + AeadInOut<NonceSize = U12>,
{
    let cipher = AesGcm::<C, U12>::new_from_slice(key).map_err(|_| Error::InvalidConfiguration)?;
    let nonce = aes_gcm::Nonce::<U12>::try_from(iv).map_err(|_| Error::InvalidConfiguration)?;
    let computed = cipher
        .encrypt_inout_detached(&nonce, aad, (&mut *buffer).into())
        .map_err(|_| Error::InvalidConfiguration)?;
    tag.copy_from_slice(&computed);
    Ok(buffer.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key schedule the content decryption makes is wiped when dropped (the crates'
    /// `zeroize` features are on).
    #[test]
    fn key_schedules_are_wiped_on_drop() {
        fn wiped<T: zeroize::ZeroizeOnDrop>() {}
        wiped::<Aes128>();
        wiped::<Aes256>();
        wiped::<cbc::Decryptor<Aes256>>();
        wiped::<AesGcm<Aes256, U12>>();
    }

    /// RFC 7518 Appendix B.1: AES_128_CBC_HMAC_SHA_256.
    #[test]
    fn rfc_7518_appendix_b1() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let plaintext = b"A cipher system must not be required to be secret, and it must be able to fall into the hands of the enemy without inconvenience";
        let iv = [
            0x1a, 0xf3, 0x8c, 0x2d, 0xc2, 0xb9, 0x6f, 0xfd, 0xd8, 0x66, 0x94, 0x09, 0x23, 0x41,
            0xbc, 0x04,
        ];
        let aad = [
            0x54, 0x68, 0x65, 0x20, 0x73, 0x65, 0x63, 0x6f, 0x6e, 0x64, 0x20, 0x70, 0x72, 0x69,
            0x6e, 0x63, 0x69, 0x70, 0x6c, 0x65, 0x20, 0x6f, 0x66, 0x20, 0x41, 0x75, 0x67, 0x75,
            0x73, 0x74, 0x65, 0x20, 0x4b, 0x65, 0x72, 0x63, 0x6b, 0x68, 0x6f, 0x66, 0x66, 0x73,
        ];
        let expected_tag = [
            0x65, 0x2c, 0x3f, 0xa3, 0x6b, 0x0a, 0x7c, 0x5b, 0x32, 0x19, 0xfa, 0xb3, 0xa3, 0x0b,
            0xc1, 0xc4,
        ];
        let mut buffer = [0u8; 160];
        buffer[..plaintext.len()].copy_from_slice(plaintext);
        let mut tag = [0u8; 16];
        let enc = ContentEncryption::A128CbcHs256;
        let len = encrypt(enc, &key, &aad, &iv, &mut buffer, plaintext.len(), &mut tag).unwrap();
        assert_eq!(len, 144);
        assert_eq!(tag, expected_tag);
        assert_eq!(&buffer[..4], &[0xc8, 0x0e, 0xdf, 0xa3]);
        let decrypted = decrypt(enc, &key, &aad, &iv, &tag, &mut buffer[..len]).unwrap();
        assert_eq!(&buffer[..decrypted], plaintext);
    }

    #[test]
    fn every_fault_is_the_same_error_and_leaves_the_ciphertext_alone() {
        for enc in ContentEncryption::ALL {
            let key = [7u8; 64];
            let key = &key[..enc.key_len()];
            let iv = [9u8; 16];
            let iv = &iv[..enc.iv_len()];
            let mut buffer = [0u8; 64];
            buffer[..20].copy_from_slice(b"eyJhbGciOiJSUzUxMiJ9");
            let mut tag = [0u8; 32];
            let tag = &mut tag[..enc.tag_len()];
            let len = encrypt(enc, key, b"aad", iv, &mut buffer, 20, tag).unwrap();
            let ciphertext = buffer;
            let mut wrong_key = [7u8; 64];
            wrong_key[0] ^= 1;
            let mut wrong_tag = [0u8; 32];
            wrong_tag[..tag.len()].copy_from_slice(tag);
            wrong_tag[0] ^= 1;
            // (key, aad, iv, tag)
            type Fault<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a [u8]);
            let faults: [Fault<'_>; 5] = [
                (&wrong_key[..enc.key_len()], b"aad", iv, tag),
                (key, b"aae", iv, tag),
                (key, b"aad", &[0u8; 16][..enc.iv_len()], tag),
                (key, b"aad", iv, &wrong_tag[..tag.len()]),
                (key, b"aad", iv, &tag[..tag.len() - 1]),
            ];
            for (key, aad, iv, tag) in faults {
                let mut attempt = ciphertext;
                assert_eq!(
                    decrypt(enc, key, aad, iv, tag, &mut attempt[..len]),
                    Err(Error::DecryptionFailed),
                    "{enc:?}"
                );
                assert_eq!(attempt, ciphertext, "{enc:?}: untouched");
            }
            let mut attempt = ciphertext;
            let plain = decrypt(enc, key, b"aad", iv, tag, &mut attempt[..len]).unwrap();
            assert_eq!(&attempt[..plain], b"eyJhbGciOiJSUzUxMiJ9");
        }
    }
}
