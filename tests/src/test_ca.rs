//! A certificate authority made for one test (OpenSSL, P-256): a server certificate for
//! `127.0.0.1` and `localhost`, and a client certificate, written as PEM files.

use std::path::PathBuf;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder, X509NameRef};

use crate::redis::ScratchDir;

/// The CA, its files, and what it issued.
pub struct TestCa {
    key: PKey<Private>,
    cert: X509,
    dir: ScratchDir,
}

/// The PEM files of one issued certificate.
pub struct IssuedFiles {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

fn new_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn serial() -> openssl::asn1::Asn1Integer {
    let mut serial = BigNum::new().unwrap();
    serial
        .rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .unwrap();
    serial.to_asn1_integer().unwrap()
}

/// A certificate for `key` named `name`, issued by `issuer` (itself when `None`), valid from
/// now for two days; extensions and signature still to come.
fn certificate(name: &str, issuer: Option<&X509NameRef>, key: &PKey<Private>) -> X509Builder {
    let mut subject = X509NameBuilder::new().unwrap();
    subject.append_entry_by_text("CN", name).unwrap();
    let subject = subject.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    builder.set_serial_number(&serial()).unwrap();
    builder.set_subject_name(&subject).unwrap();
    builder.set_issuer_name(issuer.unwrap_or(&subject)).unwrap();
    builder.set_pubkey(key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    builder
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> TestCa {
        let key = new_key();
        let mut builder = certificate(name, None, &key);
        builder
            .append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        builder
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        builder.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = builder.build();
        let dir = ScratchDir::new("test-ca");
        dir.write("ca.pem", cert.to_pem().unwrap());
        TestCa { key, cert, dir }
    }

    /// The CA certificate's PEM file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for `127.0.0.1` and `localhost` (made once, then reused).
    pub fn server_files(&self) -> IssuedFiles {
        self.issue("server", true)
    }

    /// A client certificate (made once, then reused).
    pub fn client_files(&self) -> IssuedFiles {
        self.issue("client", false)
    }

    fn issue(&self, name: &str, server: bool) -> IssuedFiles {
        let files = IssuedFiles {
            ca: self.ca_file(),
            cert: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}-key.pem")),
        };
        if files.cert.exists() {
            return files;
        }
        let key = new_key();
        let mut builder = certificate(name, Some(self.cert.subject_name()), &key);
        let context = builder.x509v3_context(Some(&self.cert), None);
        let names = SubjectAlternativeName::new()
            .ip("127.0.0.1")
            .dns("localhost")
            .build(&context)
            .unwrap();
        builder.append_extension(names).unwrap();
        let usage = match server {
            true => ExtendedKeyUsage::new().server_auth().build().unwrap(),
            false => ExtendedKeyUsage::new().client_auth().build().unwrap(),
        };
        builder.append_extension(usage).unwrap();
        builder
            .append_extension(BasicConstraints::new().build().unwrap())
            .unwrap();
        builder.sign(&self.key, MessageDigest::sha256()).unwrap();
        let cert = builder.build();
        self.dir
            .write(&format!("{name}.pem"), cert.to_pem().unwrap());
        self.dir.write(
            &format!("{name}-key.pem"),
            key.private_key_to_pem_pkcs8().unwrap(),
        );
        files
    }
}
