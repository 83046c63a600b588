//! Reading and writing named f32 tensors as safetensors, with errors that name the
//! file and the tensor.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::fsio::write_atomic;

pub use crate::nn::float::{f16_to_f32, f32_to_f16};

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

/// Writes tensors (and string metadata) to `path` atomically, as f32.
pub fn save_tensors(
    path: &Path,
    tensors: &[NamedTensor],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    save_tensors_as(path, tensors, metadata, StoredDtype::F32)
}

/// The precision tensors are stored in (they are always f32 once loaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredDtype {
    /// IEEE single precision: exact.
    F32,
    /// IEEE half precision (rounded to nearest even; 11 significant bits, |x| ≤ 65 504):
    /// half the size, for inference-only bundles.
    F16,
}

/// Writes tensors (and string metadata) to `path` atomically in `dtype`. F16 refuses
/// values beyond its range instead of storing infinities.
pub fn save_tensors_as(
    path: &Path,
    tensors: &[NamedTensor],
    metadata: Option<HashMap<String, String>>,
    dtype: StoredDtype,
) -> Result<()> {
    let mut bytes: Vec<Vec<u8>> = Vec::with_capacity(tensors.len());
    for t in tensors {
        bytes.push(match dtype {
            StoredDtype::F32 => t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            StoredDtype::F16 => {
                let mut b = Vec::with_capacity(2 * t.values.len());
                for (i, &v) in t.values.iter().enumerate() {
                    let h = f32_to_f16(v).ok_or_else(|| Error::Model {
                        path: path.to_path_buf(),
                        msg: format!(
                            "tensor {}: value {v} at index {i} does not fit in f16",
                            t.name
                        ),
                    })?;
                    b.extend(h.to_le_bytes());
                }
                b
            }
        });
    }
    let st_dtype = match dtype {
        StoredDtype::F32 => Dtype::F32,
        StoredDtype::F16 => Dtype::F16,
    };
    let mut views = Vec::with_capacity(tensors.len());
    for (t, b) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(st_dtype, t.shape.clone(), b).map_err(|e| Error::Model {
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

    /// The shape of tensor `name`, if it exists.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.st().tensor(name).ok().map(|v| v.shape().to_vec())
    }

    /// Every tensor, converted to f32, in name order.
    pub fn all(&self) -> Result<Vec<NamedTensor>> {
        let mut names = self.names();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let shape = self.shape(&name).unwrap_or_default();
                let values = self.get(&name, &shape)?;
                Ok(NamedTensor {
                    name,
                    shape,
                    values,
                })
            })
            .collect()
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
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            d => {
                return Err(self.err(format!(
                    "tensor {name} has dtype {d:?}; expected F32, F64, F16 or BF16"
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
        // Half precision: hand-made bit patterns, the round trip and the errors.
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14));
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f32_to_f16(1.0), Some(0x3c00));
        assert_eq!(f32_to_f16(-2.0), Some(0xc000));
        assert_eq!(f32_to_f16(65504.0), Some(0x7bff));
        assert_eq!(f32_to_f16(65519.0), Some(0x7bff));
        assert_eq!(f32_to_f16(65520.0), None);
        assert_eq!(f32_to_f16(f32::NAN), None);
        assert_eq!(f32_to_f16(1.0 / 3.0), Some(0x3555));
        assert_eq!(f32_to_f16(2f32.powi(-24)), Some(0x0001));
        assert_eq!(f32_to_f16(2f32.powi(-25)), Some(0x0000), "tie to even: 0");
        assert_eq!(
            f32_to_f16(1.5 * 2f32.powi(-24)),
            Some(0x0002),
            "tie to even: 2"
        );
        assert_eq!(
            f32_to_f16(2f32.powi(-14) * (1.0 - 2f32.powi(-12))),
            Some(0x0400)
        );
        assert_eq!(
            f32_to_f16(1.0 + 2f32.powi(-11)),
            Some(0x3c00),
            "tie to even"
        );
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), Some(0x3c02));
        assert_eq!(f32_to_f16(-0.0), Some(0x8000));
        assert_eq!(f32_to_f16(f32::MIN_POSITIVE / 4.0), Some(0));
        // Every f16 that is finite survives f16 → f32 → f16.
        for h in 0u16..=0xffff {
            if (h >> 10) & 0x1f != 0x1f {
                assert_eq!(f32_to_f16(f16_to_f32(h)), Some(h), "{h:#06x}");
            }
        }
        // f32 values land within half a step (2^-11 relative for normals).
        for i in 0..10_000 {
            let x = ((i as f32) * 0.7371).sin() * 10f32.powi(i % 9 - 4);
            let y = f16_to_f32(f32_to_f16(x).unwrap());
            assert!(
                (y - x).abs() <= x.abs() * 2f32.powi(-11) + 2f32.powi(-25),
                "{x} -> {y}"
            );
        }
        let half = tmp("f16");
        save_tensors_as(&half, std::slice::from_ref(&t), None, StoredDtype::F16).unwrap();
        let f16_file = TensorFile::open(&half).unwrap();
        let back = f16_file.get("a.weight", &[2, 3]).unwrap();
        assert_eq!(back[..3], [1.5, -2.0, 3.25]);
        assert_eq!(back[4..], [0.0, 7.0]);
        assert_eq!(f16_file.all().unwrap()[0].values, back);
        assert!(std::fs::metadata(&half).unwrap().len() < std::fs::metadata(&path).unwrap().len());
        let big = NamedTensor {
            name: "big".into(),
            shape: vec![1],
            values: vec![1e6],
        };
        let e = save_tensors_as(&half, &[big], None, StoredDtype::F16)
            .unwrap_err()
            .to_string();
        assert!(e.contains("big") && e.contains("f16"), "{e}");
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
