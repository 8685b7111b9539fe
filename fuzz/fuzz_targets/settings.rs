#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tsmedia::fuzz_targets::settings(data);
});
