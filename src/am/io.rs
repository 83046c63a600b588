//! Reading and writing named f32 tensors as safetensors, with errors that name the
//! file and the tensor.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::fsio::write_atomic;

/// An owned tensor: name, shape and row-major f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Tensor name (PyTorch state-dict key).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// Writes tensors (and string metadata) to `path` atomically.
pub fn save_tensors(
    path: &Path,
    tensors: &[NamedTensor],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for (t, b) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, t.shape.clone(), b).map_err(|e| Error::Model {
            path: path.to_path_buf(),
            msg: format!("tensor {}: {e}", t.name),
        })?;
        views.push((t.name.clone(), view));
    }
    let data = safetensors::serialize(views, metadata).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        msg: format!("serialising tensors: {e}"),
    })?;
    write_atomic(path, &data)
}

/// A loaded safetensors file.
#[derive(Debug)]
pub struct TensorFile {
    path: std::path::PathBuf,
    bytes: Vec<u8>,
}

impl TensorFile {
    /// Reads and validates the header of `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "reading", e))?;
        SafeTensors::deserialize(&bytes).map_err(|e| Error::Model {
            path: path.to_path_buf(),
            msg: format!("not a valid safetensors file (truncated or corrupt?): {e}"),
        })?;
        Ok(TensorFile {
            path: path.to_path_buf(),
            bytes,
        })
    }

    fn st(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("invariant: validated in TensorFile::open")
    }

    pub(crate) fn err(&self, msg: String) -> Error {
        Error::Model {
            path: self.path.clone(),
            msg,
        }
    }

    /// Names of all tensors.
    pub fn names(&self) -> Vec<String> {
        self.st().names().into_iter().map(str::to_string).collect()
    }

    /// String metadata of the header.
    pub fn metadata(&self) -> HashMap<String, String> {
        SafeTensors::read_metadata(&self.bytes)
            .ok()
            .and_then(|(_, m)| m.metadata().clone())
            .unwrap_or_default()
    }

    /// Whether a tensor of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.st().tensor(name).is_ok()
    }

    /// Tensor `name` as f32 values, checking its shape and that every value is finite.
    /// F64 and F16/BF16 tensors are converted.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let st = self.st();
        let view = st
            .tensor(name)
            .map_err(|_| self.err(format!("missing tensor {name}")))?;
        if view.shape() != shape {
            return Err(self.err(format!(
                "tensor {name} has shape {:?}, expected {shape:?}",
                view.shape()
            )));
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    f64::from_le_bytes(b) as f32
                })
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            d => {
                return Err(self.err(format!(
                    "tensor {name} has dtype {d:?}; expected F32, F64 or BF16"
                )));
            }
        };
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(self.err(format!("tensor {name} has a non-finite value at index {i}")));
        }
        Ok(values)
    }
}

/// Writes Adam's moment estimates for `model`'s tensors to `path` (safetensors,
/// tensors `m.NAME` and `v.NAME`), for training checkpoints.
pub fn save_adam_moments<P: crate::nn::Params<f32>>(
    path: &Path,
    model: &P,
    adam: &crate::nn::optim::Adam<f32>,
) -> Result<()> {
    let mut tensors = Vec::new();
    let mut i = 0;
    model.visit(&mut |name, shape, _| {
        for (prefix, moments) in [("m.", &adam.m), ("v.", &adam.v)] {
            tensors.push(NamedTensor {
                name: format!("{prefix}{name}"),
                shape: shape.to_vec(),
                values: moments[i].clone(),
            });
        }
        i += 1;
    });
    save_tensors(path, &tensors, None)
}

/// Reads the moments written by [`save_adam_moments`] into `adam` (initialised for
/// `model`); a missing tensor or a wrong shape is an error naming it.
pub fn load_adam_moments<P: crate::nn::Params<f32>>(
    path: &Path,
    model: &P,
    adam: &mut crate::nn::optim::Adam<f32>,
) -> Result<()> {
    let file = TensorFile::open(path)?;
    let mut shapes: Vec<(String, Vec<usize>)> = Vec::new();
    model.visit(&mut |name, shape, _| shapes.push((name.to_string(), shape.to_vec())));
    for (i, (name, shape)) in shapes.iter().enumerate() {
        adam.m[i] = file.get(&format!("m.{name}"), shape)?;
        adam.v[i] = file.get(&format!("v.{name}"), shape)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hark-am-io-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join("t.safetensors")
    }

    #[test]
    fn save_load_is_lossless_and_errors_name_the_tensor() {
        let path = tmp("rt");
        let t = NamedTensor {
            name: "a.weight".into(),
            shape: vec![2, 3],
            values: vec![1.5, -2.0, 3.25, f32::MIN_POSITIVE, 0.0, 7.0],
        };
        let nan = NamedTensor {
            name: "bad".into(),
            shape: vec![1],
            values: vec![f32::NAN],
        };
        save_tensors(&path, &[t.clone(), nan], None).unwrap();
        let f = TensorFile::open(&path).unwrap();
        assert_eq!(f.get("a.weight", &[2, 3]).unwrap(), t.values);
        let e = f.get("a.weight", &[3, 2]).unwrap_err().to_string();
        assert!(
            e.contains("a.weight") && e.contains("[2, 3]") && e.contains("t.safetensors"),
            "{e}"
        );
        let e = f.get("nope", &[1]).unwrap_err().to_string();
        assert!(e.contains("missing tensor nope"), "{e}");
        let e = f.get("bad", &[1]).unwrap_err().to_string();
        assert!(e.contains("non-finite") && e.contains("bad"), "{e}");
        // Truncated file.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let e = TensorFile::open(&path).unwrap_err().to_string();
        assert!(
            e.contains("t.safetensors") && e.contains("truncated"),
            "{e}"
        );
    }
}
