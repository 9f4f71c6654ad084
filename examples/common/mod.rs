//! What the MNIST examples share: command-line flags, loading the data, one training
//! epoch with a progress bar, held-out accuracy, and the run directory's metrics and plots.
//!
//! Each example includes this file with `mod common;` and uses only part of it, so dead
//! code is allowed here rather than split into one file per helper.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use nabla::data::{DataLoader, Dataset, Mnist, MnistSplit, TensorDataset};
use nabla::prelude::*;
use plotters::prelude::*;

/// The value after `--name` on the command line, if any.
pub fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// The number after `--name`, or `default`. A value that does not parse is an error.
pub fn flag_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match flag(name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("error: {name} expects a number, got {v:?}");
            std::process::exit(2)
        }),
    }
}

/// MNIST from `--data DIR` (its `train-*` files to train on, `t10k-*` to evaluate) or the
/// bundled 10 000 test images (first 8 000 train, last 2 000 held out), the training set cut
/// to `--limit N` images if given.
pub fn mnist() -> MnistSplit {
    let split = match flag("--data") {
        Some(dir) => Mnist::load_dir(&dir).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1)
        }),
        None => Mnist::bundled().expect("the bundled MNIST in data/mnist"),
    };
    let limit = flag_or("--limit", usize::MAX);
    if limit >= split.train.len() {
        return split;
    }
    let (x, y) = split.train.into_tensors();
    let train = TensorDataset::new(x.narrow(0, 0, limit), y.narrow(0, 0, limit));
    MnistSplit { train, test: split.test }
}

/// The split with its images standardized by MNIST's training-set mean and standard
/// deviation (0.1307, 0.3081), as PyTorch's MNIST example does: centred inputs make the
/// first layer's gradients better conditioned.
pub fn standardized(split: MnistSplit) -> MnistSplit {
    let norm = |ds: TensorDataset| {
        let (x, y) = ds.into_tensors();
        TensorDataset::new((x - 0.1307) * (1.0 / 0.3081), y)
    };
    MnistSplit { train: norm(split.train), test: norm(split.test) }
}

/// A progress bar for one epoch of `batches` batches: loss and images per second.
pub fn epoch_bar(epoch: usize, epochs: usize, batches: usize) -> ProgressBar {
    let bar = ProgressBar::new(batches as u64);
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{}/{}", epoch, epochs));
    bar
}

/// One pass over `loader`: forward, cross-entropy, backward, step. Returns the mean loss
/// over the images.
pub fn train_epoch(
    model: &dyn Module,
    opt: &mut dyn Optimizer,
    loader: &DataLoader<TensorDataset>,
    epoch: usize,
    epochs: usize,
) -> f64 {
    model.train();
    let bar = epoch_bar(epoch, epochs, loader.len());
    let start = Instant::now();
    let (mut loss_sum, mut seen) = (0.0, 0usize);
    for (images, labels) in loader.iter() {
        let n = labels.shape()[0];
        let loss = nabla::functional::cross_entropy(&model.forward(&images), &labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
        loss_sum += loss.item() * n as f64;
        seen += n;
        let rate = seen as f64 / start.elapsed().as_secs_f64();
        bar.set_message(format!("loss {:.4}  {rate:.0} img/s", loss_sum / seen as f64));
        bar.inc(1);
    }
    bar.finish_and_clear();
    loss_sum / seen.max(1) as f64
}

/// The fraction of `data` whose argmax of `model`'s output is the label, in evaluation
/// mode without recording a graph.
pub fn accuracy(model: &dyn Module, data: &TensorDataset) -> f64 {
    model.eval();
    let loader = DataLoader::new(data.clone(), 500);
    let correct: usize = no_grad(|| {
        loader
            .iter()
            .map(|(images, labels)| {
                let predicted = model.forward(&images).argmax(1, false).to_vec::<i64>();
                predicted.iter().zip(labels.to_vec::<i64>()).filter(|(p, l)| **p == *l).count()
            })
            .sum()
    });
    model.train();
    correct as f64 / data.len() as f64
}

/// One row of `metrics.csv`.
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    pub test_accuracy: f64,
    pub seconds: f64,
}

/// Writes `metrics.csv`, `loss.png` and `accuracy.png` into `dir`.
pub fn write_metrics(dir: &Path, rows: &[EpochMetrics]) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let mut csv = String::from("epoch,train_loss,test_accuracy,seconds\n");
    for r in rows {
        writeln!(csv, "{},{:.6},{:.6},{:.3}", r.epoch, r.train_loss, r.test_accuracy, r.seconds)?;
    }
    std::fs::write(dir.join("metrics.csv"), csv)?;
    let loss: Vec<(f64, f64)> = rows.iter().map(|r| (r.epoch as f64, r.train_loss)).collect();
    let acc: Vec<(f64, f64)> = rows.iter().map(|r| (r.epoch as f64, r.test_accuracy)).collect();
    line_plot(&dir.join("loss.png"), "training loss", "loss", &loss, RED)?;
    line_plot(&dir.join("accuracy.png"), "held-out accuracy", "accuracy", &acc, BLUE)?;
    Ok(())
}

/// The font the PNG plots are drawn with: DejaVu Sans, bundled in `examples/assets/` with
/// its licence, so the plots look the same on machines without system fonts.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the bundled font as `sans-serif` (once).
fn register_font() -> Result<(), Box<dyn std::error::Error>> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the bundled font examples/assets/DejaVuSans.ttf is not a valid TrueType font".into())
    }
}

/// A line plot of `points` (epoch, value) as a PNG file.
pub fn line_plot(
    path: &Path,
    title: &str,
    y_label: &str,
    points: &[(f64, f64)],
    color: RGBColor,
) -> Result<(), Box<dyn std::error::Error>> {
    register_font()?;
    let root = BitMapBackend::new(path, (640, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let x_max = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max + 0.5, (lo - pad)..(hi + pad))?;
    chart.configure_mesh().x_desc("epoch").y_desc(y_label).label_style(("sans-serif", 14)).draw()?;
    chart.draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))?;
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    root.present()?;
    Ok(())
}

/// A grid of grayscale `tile`×`tile` images (each row of `images` one image, scaled to its own
/// min..max) as a PNG file, every pixel drawn as a `scale`×`scale` block.
pub fn image_grid(
    path: &Path,
    images: &[Vec<f32>],
    tile: usize,
    scale: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let cols = (images.len() as f64).sqrt().ceil().max(1.0) as usize;
    let rows = images.len().div_ceil(cols).max(1);
    let gap = 2;
    let cell = tile * scale + gap;
    let (width, height) = (cols * cell + gap, rows * cell + gap);
    let root = BitMapBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    for (k, image) in images.iter().enumerate() {
        let (lo, hi) = image.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let (x0, y0) = (gap + (k % cols) * cell, gap + (k / cols) * cell);
        for (i, &x) in image.iter().enumerate() {
            let level = ((x - lo) / (hi - lo).max(1e-12) * 255.0) as u8;
            let (px, py) = (x0 + (i % tile) * scale, y0 + (i / tile) * scale);
            root.draw(&Rectangle::new(
                [(px as i32, py as i32), ((px + scale) as i32, (py + scale) as i32)],
                RGBColor(level, level, level).filled(),
            ))?;
        }
    }
    root.present()?;
    Ok(())
}

/// `runs/<name>`, relative to the current directory.
pub fn run_dir(default_name: &str) -> PathBuf {
    PathBuf::from("runs").join(flag("--name").unwrap_or_else(|| default_name.to_string()))
}
