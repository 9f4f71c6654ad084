//! Checkpoints: safetensors round trips, corrupt files, and load_state_dict's checks.

mod common;

use nabla_autograd::{DType, Error, Tensor};
use nabla_nn::nn::{Activation, BatchNorm1d, Linear, Mlp, Module, ReLU, Sequential, StateDict};
use std::path::PathBuf;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nabla-nn-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn safetensors_round_trip_is_bit_exact_for_every_dtype() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("all.safetensors");
    let f32s = vec![1.5f32, -0.0, f32::MIN_POSITIVE / 3.0, f32::MAX, f32::NAN, f32::INFINITY, 1e-30, 2.7182817];
    let f64s = vec![0.1f64, -2.5e-310, f64::MAX, -f64::INFINITY, 1.0 / 3.0, 7.0];
    let mut sd = StateDict::new();
    sd.insert("a.weight", Tensor::from_vec(f32s.clone(), &[2, 4]));
    sd.insert("b", Tensor::from_vec(f64s.clone(), &[3, 2]).t()); // non-contiguous: saved row-major
    sd.insert("c.num_batches_tracked", Tensor::scalar(123_456_789_012i64));
    sd.insert("mask", Tensor::from_vec(vec![true, false, true], &[3]));
    sd.insert("empty", Tensor::zeros(&[0, 3]));
    sd.save(&path).unwrap();
    let back = StateDict::load(&path).unwrap();
    assert_eq!(back.len(), 5);
    let bits32 = |t: &Tensor| t.to_vec::<f32>().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let bits64 = |t: &Tensor| t.to_vec::<f64>().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits32(back.get("a.weight").unwrap()), f32s.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    assert_eq!(back.get("a.weight").unwrap().shape(), &[2, 4]);
    assert_eq!(bits64(back.get("b").unwrap()), bits64(sd.get("b").unwrap()));
    assert_eq!(back.get("b").unwrap().shape(), &[2, 3]);
    let n = back.get("c.num_batches_tracked").unwrap();
    assert_eq!((n.dtype(), n.shape().len(), n.to_vec::<i64>()), (DType::I64, 0, vec![123_456_789_012]));
    assert_eq!(back.get("mask").unwrap().to_vec::<bool>(), vec![true, false, true]);
    assert_eq!(back.get("empty").unwrap().shape(), &[0, 3]);
    // the bytes are the same on a second save: deterministic files
    assert_eq!(std::fs::read(&path).unwrap(), back.to_safetensors_bytes().unwrap());
    // nothing but the file is left in the directory (the temporary was renamed)
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("all.safetensors")]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_model_survives_save_and_load() {
    let dir = temp_dir("model");
    let path = dir.join("mlp.safetensors");
    let a = Sequential::new().add(Linear::new(5, 4)).add(BatchNorm1d::new(4)).add(ReLU).add(Linear::new(4, 2));
    a.forward(&Tensor::randn(&[8, 5])); // moves the running stats
    a.state_dict().save(&path).unwrap();
    let b = Sequential::new().add(Linear::new(5, 4)).add(BatchNorm1d::new(4)).add(ReLU).add(Linear::new(4, 2));
    b.load_state_dict(&StateDict::load(&path).unwrap(), true).unwrap();
    for ((na, ta), (nb, tb)) in a.state_dict().iter().zip(b.state_dict().iter()) {
        assert_eq!(na, nb);
        assert_eq!(ta.to_vec::<f64>(), tb.to_vec::<f64>(), "{na}");
        assert_eq!(ta.dtype(), tb.dtype());
    }
    assert_eq!(b.state_dict().get("1.num_batches_tracked").unwrap().to_vec::<i64>(), vec![1]);
    // loading keeps the parameters' identity: an optimizer built before still sees them
    assert!(b.parameters().iter().all(|p| p.requires_grad() && p.is_leaf()));
    a.eval();
    b.eval();
    let x = Tensor::randn(&[3, 5]);
    assert_eq!(a.forward(&x).to_vec::<f32>(), b.forward(&x).to_vec::<f32>());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_state_dict_names_every_problem() {
    let model = Sequential::new().add(Linear::new(3, 16)).add(ReLU).add(Linear::new(16, 2));
    let mut sd = model.state_dict();
    sd.remove("2.bias");
    sd.insert("0.weight", Tensor::zeros(&[32, 3]));
    sd.insert("5.weight", Tensor::zeros(&[1]));
    let before = model.parameters()[0].to_vec::<f32>();
    let e = model.load_state_dict(&sd, true).unwrap_err();
    assert!(matches!(e, Error::StateDict { .. }));
    let msg = e.to_string();
    assert!(msg.starts_with("Error(s) in loading state_dict"), "{msg}");
    assert!(msg.contains("Sequential"), "{msg}");
    assert!(msg.contains("Missing key(s) in state_dict: \"2.bias\"."), "{msg}");
    assert!(msg.contains("Unexpected key(s) in state_dict: \"5.weight\"."), "{msg}");
    assert!(
        msg.contains(
            "size mismatch for 0.weight: copying a param with shape [32, 3] from checkpoint, the shape in current model is [16, 3]."
        ),
        "{msg}"
    );
    assert_eq!(model.parameters()[0].to_vec::<f32>(), before, "a failed load changes nothing");

    // non-strict: missing and unexpected keys are fine, a shape mismatch is not
    let e = model.load_state_dict(&sd, false).unwrap_err().to_string();
    assert!(!e.contains("Missing") && e.contains("size mismatch for 0.weight"), "{e}");
    sd.insert("0.weight", Tensor::ones(&[16, 3]));
    model.load_state_dict(&sd, false).unwrap();
    assert_eq!(model.parameters()[0].to_vec::<f32>(), vec![1.0; 48]);
}

#[test]
fn loading_converts_dtypes_like_pytorch() {
    let model = Linear::new(2, 1);
    let mut sd = StateDict::new();
    sd.insert("weight", Tensor::from_vec(vec![0.5f64, 0.25], &[1, 2]));
    sd.insert("bias", Tensor::from_vec(vec![2.0f64], &[1]));
    model.load_state_dict(&sd, true).unwrap();
    assert_eq!(model.weight.dtype(), DType::F32);
    assert_eq!(model.weight.to_vec::<f32>(), vec![0.5, 0.25]);
}

fn valid_bytes() -> Vec<u8> {
    Mlp::new(&[4, 3, 2], Activation::ReLU).state_dict().to_safetensors_bytes().unwrap()
}

fn invalid(bytes: &[u8]) -> String {
    match StateDict::from_safetensors_bytes(bytes, "bad.safetensors") {
        Err(e @ Error::InvalidFile { .. }) => e.to_string(),
        Err(e) => panic!("wrong error kind: {e}"),
        Ok(_) => panic!("accepted a corrupt file"),
    }
}

#[test]
fn corrupt_and_truncated_files_are_errors_not_panics() {
    let good = valid_bytes();
    assert!(StateDict::from_safetensors_bytes(&good, "ok").is_ok());
    // every truncation
    for cut in [0, 1, 7, 8, 9, good.len() / 2, good.len() - 1] {
        let e = invalid(&good[..cut]);
        assert!(e.contains("bad.safetensors"), "{e}");
    }
    // trailing garbage
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 4]);
    invalid(&longer);
    // a header claiming to be enormous: refused before any allocation
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    invalid(&huge);
    huge[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    invalid(&huge);
    // a header that is not JSON
    let mut garbled = good.clone();
    garbled[9] = b'#';
    invalid(&garbled);
    // a tensor claiming more data than the file holds
    let header = r#"{"w":{"dtype":"F32","shape":[1000000000,1000000000],"data_offsets":[0,8]}}"#;
    let mut lying = (header.len() as u64).to_le_bytes().to_vec();
    lying.extend_from_slice(header.as_bytes());
    lying.extend_from_slice(&[0; 8]);
    invalid(&lying);
    // an unsupported dtype is named
    let header = r#"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#;
    let mut c64 = (header.len() as u64).to_le_bytes().to_vec();
    c64.extend_from_slice(header.as_bytes());
    c64.extend_from_slice(&[0; 8]);
    assert!(invalid(&c64).contains("C64"));
    // BOOL bytes other than 0 and 1
    let header = r#"{"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}"#;
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(&[1, 7]);
    assert!(invalid(&b).contains("BOOL"));
}

#[test]
fn missing_files_and_directories_are_io_errors() {
    let e = StateDict::load("/nonexistent-dir/x.safetensors").unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    let e = StateDict::new().save("/nonexistent-dir/x.safetensors").unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent-dir/x.safetensors"));
}

#[test]
fn half_precision_files_from_pytorch_load_as_f32() {
    // {"h": F16 [2] = [1.0, -2.0], "b": BF16 [1] = [0.5]}
    let header = r#"{"b":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"h":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&0x3f00u16.to_le_bytes());
    bytes.extend_from_slice(&0x3c00u16.to_le_bytes());
    bytes.extend_from_slice(&0xc000u16.to_le_bytes());
    let sd = StateDict::from_safetensors_bytes(&bytes, "half").unwrap();
    assert_eq!(sd.keys().collect::<Vec<_>>(), ["b", "h"], "in file order");
    assert_eq!(sd.get("h").unwrap().to_vec::<f32>(), vec![1.0, -2.0]);
    assert_eq!(sd.get("b").unwrap().to_vec::<f32>(), vec![0.5]);
    assert_eq!(sd.get("b").unwrap().dtype(), DType::F32);
}
