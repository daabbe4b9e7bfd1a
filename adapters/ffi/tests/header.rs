//! The checked-in header is exactly what cbindgen generates from the source.
//!
//! `KOPPELTAAL_BLESS_HEADER=1 cargo test -p koppeltaal-ffi --test header` rewrites it.

#[test]
fn the_header_is_up_to_date() {
    let directory = env!("CARGO_MANIFEST_DIR");
    let config =
        cbindgen::Config::from_file(format!("{directory}/cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(format!("{directory}/src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = format!("{directory}/include/koppeltaal.h");
    if std::env::var_os("KOPPELTAAL_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "adapters/ffi/include/koppeltaal.h is stale: regenerate it with \
         KOPPELTAAL_BLESS_HEADER=1 cargo test -p koppeltaal-ffi --test header"
    );
}

/// `SomeName` as `KOPPELTAAL_SOME_NAME`.
fn constant_name(name: &str) -> String {
    let mut constant = String::from("KOPPELTAAL_");
    for (index, letter) in name.chars().enumerate() {
        if letter.is_ascii_uppercase() && index > 0 {
            constant.push('_');
        }
        constant.push(letter.to_ascii_uppercase());
    }
    constant
}

/// What `src/codes.rs` must say: a named constant for every code of the error tables.
fn codes_rs() -> String {
    let mut out = String::from(
        "//! Every status code as a named constant, so that C code never hard-codes a number: the\n\
         //! core's codes (1xx-8xx), the host's (9xx). Generated from the error tables by\n\
         //! `KOPPELTAAL_BLESS_HEADER=1 cargo test -p koppeltaal-ffi --test header`; a test checks it.\n\n",
    );
    let codes = koppeltaal_core::Error::CODES
        .iter()
        .chain(koppeltaal_host::HostError::CODES);
    for &code in codes {
        let name = constant_name(koppeltaal_host::HostError::name_of(code).unwrap());
        if name == "KOPPELTAAL_BUFFER_TOO_SMALL" {
            continue; // declared beside the ABI's own codes
        }
        let summary = koppeltaal_host::HostError::summary_of(code)
            .unwrap()
            .replace('`', "");
        out.push_str(&format!(
            "/// {code}: {summary}.\npub const {name}: i32 = {code};\n"
        ));
    }
    out
}

#[test]
fn the_code_constants_are_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/codes.rs");
    let expected = codes_rs();
    if std::env::var_os("KOPPELTAAL_BLESS_HEADER").is_some() {
        std::fs::write(path, &expected).expect("write codes.rs");
    }
    assert!(
        std::fs::read_to_string(path).unwrap_or_default() == expected,
        "adapters/ffi/src/codes.rs is stale: regenerate it (and then the header) with \
         KOPPELTAAL_BLESS_HEADER=1 cargo test -p koppeltaal-ffi --test header, twice"
    );
}

#[test]
fn the_header_names_every_status_code() {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/koppeltaal.h"))
            .unwrap();
    let codes = koppeltaal_core::Error::CODES
        .iter()
        .chain(koppeltaal_host::HostError::CODES);
    for &code in codes {
        let name = koppeltaal_host::HostError::name_of(code).unwrap();
        let define = format!("#define {} {code}\n", constant_name(name));
        assert!(
            header.contains(&define),
            "the header lacks `{}`",
            define.trim()
        );
    }
    assert!(header.contains("#define KOPPELTAAL_REPLAYED 600\n"));
}
