#![no_main]
// FLAC: every input is given the `fLaC` signature so all of it reaches symphonia.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = b"fLaC".to_vec();
    bytes.extend_from_slice(data.strip_prefix(b"fLaC").unwrap_or(data));
    hark_fuzz::check_audio(&bytes)
});
