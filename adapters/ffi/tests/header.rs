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
