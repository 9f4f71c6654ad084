//! Reading and writing a [`StateDict`] as safetensors, PyTorch's interchange format:
//! little-endian data, row-major, PyTorch's names and shapes, so that
//! `model.load_state_dict(safetensors.torch.load_file(path))` works in PyTorch.

use crate::state_dict::StateDict;
use nabla_autograd::{DType, Error, RawTensor, Result, Tensor};
use safetensors::tensor::{Metadata, TensorView};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

impl StateDict {
    /// Writes the state dict as a safetensors file.
    ///
    /// The bytes go to a temporary file in the same directory which is then renamed into
    /// place, so a crash never leaves a half-written checkpoint under `path`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_nn::nn::StateDict;
    /// let dir = std::env::temp_dir().join(format!("nabla-doc-save-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("w.safetensors");
    /// let mut sd = StateDict::new();
    /// sd.insert("weight", Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]));
    /// sd.save(&path).unwrap();
    /// let back = StateDict::load(&path).unwrap();
    /// assert_eq!(back.get("weight").unwrap().to_vec::<f32>(), vec![1.0, 2.0]);
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_safetensors_bytes().map_err(|e| match e {
            Error::InvalidFile { reason, .. } => Error::invalid_file(path, reason),
            e => e,
        })?;
        write_atomically(path, &bytes)
    }

    /// Reads a safetensors file (from nabla or from `safetensors.torch.save_file`).
    ///
    /// F32, F64, I64 and BOOL tensors load as they are; F16 and BF16 are widened to F32
    /// and smaller integers to I64. A missing file is [`Error::Io`]; a truncated or
    /// corrupt one, or one whose header claims more than the file holds, is
    /// [`Error::InvalidFile`] (nothing is allocated beyond the file's own size).
    ///
    /// ```
    /// let e = nabla_nn::nn::StateDict::load("/nonexistent/model.safetensors").unwrap_err();
    /// assert!(e.to_string().contains("/nonexistent/model.safetensors"));
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<StateDict> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
        StateDict::from_safetensors_bytes(&bytes, path)
    }

    /// The safetensors encoding of the state dict (what [`StateDict::save`] writes).
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>> {
        let encoded: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = self
            .iter()
            .map(|(name, t)| {
                let (dtype, bytes) = encode(t.raw());
                (name, dtype, t.shape().to_vec(), bytes)
            })
            .collect();
        let mut views = Vec::with_capacity(encoded.len());
        for (name, dtype, shape, bytes) in &encoded {
            let view = TensorView::new(*dtype, shape.clone(), bytes)
                .map_err(|e| Error::invalid_file("<state dict>", format!("cannot encode {name}: {e}")))?;
            views.push((*name, view));
        }
        let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
        safetensors::serialize(views, Some(metadata))
            .map_err(|e| Error::invalid_file("<state dict>", format!("cannot serialize: {e}")))
    }

    /// Decodes safetensors bytes; `origin` (a file name) is what errors name.
    ///
    /// ```
    /// let e = nabla_nn::nn::StateDict::from_safetensors_bytes(b"\xff\xff", "x.safetensors").unwrap_err();
    /// assert!(e.to_string().contains("x.safetensors"));
    /// ```
    pub fn from_safetensors_bytes(bytes: &[u8], origin: impl AsRef<Path>) -> Result<StateDict> {
        let origin = origin.as_ref();
        let bad = |what: String| Error::invalid_file(origin, format!("not a valid safetensors file: {what}"));
        let (_, metadata): (usize, Metadata) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let mut sd = StateDict::new();
        for name in metadata.offset_keys() {
            let view = st.tensor(&name).map_err(|e| bad(e.to_string()))?;
            let raw = decode(&view).map_err(|why| Error::invalid_file(origin, format!("tensor {name}: {why}")))?;
            sd.insert(name, Tensor::from_raw(raw));
        }
        Ok(sd)
    }
}

/// The safetensors dtype and little-endian bytes of `t`.
fn encode(t: &RawTensor) -> (Dtype, Vec<u8>) {
    match t.dtype() {
        DType::F32 => (Dtype::F32, t.to_vec_exact::<f32>().iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::F64 => (Dtype::F64, t.to_vec_exact::<f64>().iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::I64 => (Dtype::I64, t.to_vec_exact::<i64>().iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::Bool => (Dtype::BOOL, t.to_vec_exact::<bool>().iter().map(|&b| b as u8).collect()),
    }
}

fn decode(view: &TensorView<'_>) -> std::result::Result<RawTensor, String> {
    let shape = view.shape();
    let data = view.data();
    fn words<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        data.chunks_exact(N).map(|c| c.try_into().expect("chunks_exact gives N bytes"))
    }
    let raw = match view.dtype() {
        Dtype::F32 => RawTensor::from_vec(words::<4>(data).map(f32::from_le_bytes).collect(), shape),
        Dtype::F64 => RawTensor::from_vec(words::<8>(data).map(f64::from_le_bytes).collect(), shape),
        Dtype::I64 => RawTensor::from_vec(words::<8>(data).map(i64::from_le_bytes).collect(), shape),
        Dtype::I32 => RawTensor::from_vec(words::<4>(data).map(|w| i32::from_le_bytes(w) as i64).collect(), shape),
        Dtype::I16 => RawTensor::from_vec(words::<2>(data).map(|w| i16::from_le_bytes(w) as i64).collect(), shape),
        Dtype::I8 => RawTensor::from_vec(data.iter().map(|&b| b as i8 as i64).collect(), shape),
        Dtype::U8 => RawTensor::from_vec(data.iter().map(|&b| b as i64).collect(), shape),
        Dtype::BF16 => RawTensor::from_vec(
            words::<2>(data).map(|w| f32::from_bits((u16::from_le_bytes(w) as u32) << 16)).collect(),
            shape,
        ),
        Dtype::F16 => RawTensor::from_vec(words::<2>(data).map(|w| f16_to_f32(u16::from_le_bytes(w))).collect(), shape),
        Dtype::BOOL => {
            if let Some(b) = data.iter().find(|&&b| b > 1) {
                return Err(format!("BOOL data holds the byte {b}, expected 0 or 1"));
            }
            RawTensor::from_vec(data.iter().map(|&b| b == 1).collect(), shape)
        }
        other => return Err(format!("dtype {other} is not supported (nabla holds F32, F64, I64 and BOOL)")),
    };
    Ok(raw)
}

/// IEEE half to single precision (exact: every half is a float).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // subnormal: m · 2^-24
            let v = m as f32 * 2f32.powi(-24);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Writes `bytes` to a temporary file next to `path`, flushes it to disk, then renames it
/// over `path` (atomic on POSIX file systems).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::io(path, &std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, &e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_widens_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
