//! `qrca accounts`. Work in progress.

pub fn suggest(district: &str, ward: &str) -> anyhow::Result<u8> {
    let _ = (district, ward);
    anyhow::bail!("qrca accounts suggest is not built yet")
}
