//! azver's wire contract: the messages and gRPC service of package `azver.v1`, generated at
//! build time from `proto/azver/v1/*.proto`.
//!
//! Domain code never uses these types directly: each side converts in exactly one module
//! (see ARCHITECTURE.md).

pub mod convert;
pub mod reason;

/// Generated code for package `azver.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod v1 {
    tonic::include_proto!("azver.v1");
}

/// The encoded `FileDescriptorSet` of every azver proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/azver_descriptor.bin"));
