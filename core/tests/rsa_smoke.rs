use koppeltaal_core::{HashAlgorithm, RsaPublicKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha512};
use signature::{SignatureEncoding, Signer};

#[test]
fn smoke() {
    let mut rng = rand::rng();
    for bits in [2048usize, 3072, 4096, 2304] {
        let private = rsa::RsaPrivateKey::new(&mut rng, bits).unwrap();
        let public = private.to_public_key();
        let key = RsaPublicKey::from_be_bytes(&public.n_bytes(), &public.e_bytes()).unwrap();
        let signer = rsa::pkcs1v15::SigningKey::<Sha512>::new(private);
        let sig = signer.sign(b"hello").to_vec();
        let digest = Sha512::digest(b"hello");
        assert_eq!(
            key.verify_digest(HashAlgorithm::Sha512, &digest, &sig),
            Ok(()),
            "{bits}"
        );
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert!(
            key.verify_digest(HashAlgorithm::Sha512, &digest, &bad)
                .is_err()
        );
    }
}
