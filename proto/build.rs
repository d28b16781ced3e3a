//! Compiles `azver/v1/*.proto` with protox (pure Rust, no system `protoc`) and generates the
//! prost messages and tonic stubs. The encoded descriptor set is also written to OUT_DIR so the
//! collector can serve gRPC reflection from exactly the contract it was built with.

use std::path::PathBuf;

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["azver/v1/inventory.proto", "azver/v1/inventory_service.proto"];
    for proto in &protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let fds = protox::compile(protos, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("azver_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
