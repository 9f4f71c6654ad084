//! DataLoader, samplers and dataset combinators: batch counts, drop_last, shuffling
//! (a permutation, reproducible per seed, new each epoch), prefetching, collate closures,
//! random_split.

use std::collections::HashSet;

use nabla_autograd::rng::manual_seed;
use nabla_autograd::Tensor;
use nabla_data::{
    random_split, ConcatDataset, DataLoader, Dataset, RandomSampler, Sampler, Subset, TensorDataset,
    WeightedRandomSampler,
};

/// `n` samples whose input row is `[i, -i]` and label `i`.
fn numbered(n: usize) -> TensorDataset {
    let x: Vec<f32> = (0..n).flat_map(|i| [i as f32, -(i as f32)]).collect();
    let y: Vec<i64> = (0..n as i64).collect();
    TensorDataset::new(Tensor::from_vec(x, &[n, 2]), Tensor::from_vec(y, &[n]))
}

/// The labels of one epoch, batch by batch, checking that inputs match labels.
fn epoch(loader: &DataLoader<impl Dataset<Item = (Tensor, Tensor)> + 'static>) -> Vec<Vec<i64>> {
    loader
        .iter()
        .map(|(x, y)| {
            let (x, y) = (x.to_vec::<f32>(), y.to_vec::<i64>());
            for (row, label) in x.chunks(2).zip(&y) {
                assert_eq!(row, [*label as f32, -(*label as f32)]);
            }
            y
        })
        .collect()
}

#[test]
fn batch_counts_and_drop_last() {
    for (n, bs, drop_last, sizes) in [
        (10, 3, false, vec![3, 3, 3, 1]),
        (10, 3, true, vec![3, 3, 3]),
        (9, 3, true, vec![3, 3, 3]),
        (9, 3, false, vec![3, 3, 3]),
        (2, 5, false, vec![2]),
        (2, 5, true, vec![]),
        (0, 5, false, vec![]),
    ] {
        let loader = DataLoader::new(numbered(n), bs).drop_last(drop_last);
        assert_eq!(loader.len(), sizes.len(), "n {n} bs {bs} drop_last {drop_last}");
        let got: Vec<usize> = epoch(&loader).iter().map(Vec::len).collect();
        assert_eq!(got, sizes, "n {n} bs {bs} drop_last {drop_last}");
        assert_eq!(loader.iter().len(), sizes.len());
    }
}

#[test]
fn sequential_order_without_shuffle() {
    let loader = DataLoader::new(numbered(7), 3);
    assert_eq!(epoch(&loader), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
}

#[test]
fn shuffle_is_a_permutation_new_each_epoch_and_reproducible() {
    manual_seed(1234);
    let loader = DataLoader::new(numbered(100), 16).shuffle(true);
    let a1: Vec<i64> = epoch(&loader).concat();
    let a2: Vec<i64> = epoch(&loader).concat();
    let mut sorted = a1.clone();
    sorted.sort();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>(), "an epoch visits each sample once");
    assert_ne!(a1, a2, "each epoch has a new order");
    assert_ne!(a1, (0..100).collect::<Vec<_>>(), "shuffled");

    manual_seed(1234);
    let again = DataLoader::new(numbered(100), 16).shuffle(true);
    assert_eq!(epoch(&again).concat(), a1, "same seed, same first epoch");
    assert_eq!(epoch(&again).concat(), a2, "same seed, same second epoch");

    manual_seed(4321);
    let other = DataLoader::new(numbered(100), 16).shuffle(true);
    assert_ne!(epoch(&other).concat(), a1, "another seed, another order");
}

#[test]
fn shuffle_with_drop_last_keeps_full_batches() {
    let loader = DataLoader::new(numbered(10), 4).shuffle(true).drop_last(true);
    let batches = epoch(&loader);
    assert_eq!(batches.len(), 2);
    let seen: HashSet<i64> = batches.concat().into_iter().collect();
    assert_eq!(seen.len(), 8, "8 distinct samples");
}

#[test]
fn prefetch_gives_the_same_batches() {
    manual_seed(5);
    let plain = DataLoader::new(numbered(50), 7).shuffle(true);
    let plain_epochs = (epoch(&plain), epoch(&plain));
    manual_seed(5);
    let prefetched = DataLoader::new(numbered(50), 7).shuffle(true).prefetch(true);
    let prefetched_epochs = (epoch(&prefetched), epoch(&prefetched));
    assert_eq!(plain_epochs, prefetched_epochs);
}

#[test]
fn abandoning_a_prefetched_epoch_stops_its_thread() {
    let loader = DataLoader::new(numbered(1000), 1).prefetch(true);
    for _ in 0..20 {
        let mut it = loader.iter();
        assert_eq!(it.next().unwrap().1.to_vec::<i64>(), vec![0]);
        // dropped here with ~1000 batches left: must not hang
    }
}

/// A dataset that panics on one index.
struct Faulty;

impl Dataset for Faulty {
    type Item = Tensor;
    fn len(&self) -> usize {
        4
    }
    fn get(&self, index: usize) -> Tensor {
        assert!(index != 2, "sample 2 is corrupt");
        Tensor::from_vec(vec![index as f32], &[1])
    }
}

#[test]
#[should_panic(expected = "sample 2 is corrupt")]
fn a_panic_on_the_prefetch_thread_reaches_the_caller() {
    let loader = DataLoader::new(Faulty, 1).prefetch(true);
    for _ in loader.iter() {}
}

#[test]
#[should_panic(expected = "DataLoader: batch_size must be at least 1, got 0")]
fn zero_batch_size_panics_with_a_clear_message() {
    let _ = DataLoader::new(numbered(3), 0);
}

#[test]
fn zero_batch_size_is_an_err_with_try_new() {
    let err = DataLoader::try_new(numbered(3), 0).unwrap_err();
    assert!(err.to_string().contains("batch_size must be at least 1"));
}

#[test]
fn custom_collate_and_item_by_item_datasets() {
    // Faulty-free custom dataset: the default collate stacks items one by one.
    struct Plain;
    impl Dataset for Plain {
        type Item = (Tensor, Tensor);
        fn len(&self) -> usize {
            5
        }
        fn get(&self, i: usize) -> (Tensor, Tensor) {
            (Tensor::from_vec(vec![i as f32; 3], &[3]), Tensor::from_vec(vec![i as i64], &[]))
        }
    }
    let loader = DataLoader::new(Plain, 2);
    let (x, y) = loader.iter().next().unwrap();
    assert_eq!(x.shape(), &[2, 3]);
    assert_eq!(y.to_vec::<i64>(), vec![0, 1]);

    let sums = DataLoader::new(Plain, 2)
        .collate(|items: Vec<(Tensor, Tensor)>| items.iter().map(|(_, y)| y.to_vec::<i64>()[0]).sum::<i64>());
    assert_eq!(sums.iter().collect::<Vec<_>>(), vec![1, 5, 4]);
}

#[test]
fn fast_path_equals_stacking() {
    let ds = numbered(9);
    let indices = [4, 0, 8, 8, 3];
    let (fx, fy) = ds.get_batch(&indices).unwrap();
    let items: Vec<(Tensor, Tensor)> = indices.iter().map(|&i| ds.get(i)).collect();
    let (sx, sy) = nabla_data::default_collate(items);
    assert_eq!(fx.shape(), sx.shape());
    assert_eq!(fx.to_vec::<f32>(), sx.to_vec::<f32>());
    assert_eq!(fy.to_vec::<i64>(), sy.to_vec::<i64>());
}

#[test]
fn weighted_sampler_in_a_loader_rebalances_classes() {
    // 90 samples of class 0, 10 of class 1; weights make both equally likely.
    let y: Vec<i64> = (0..100).map(|i| i64::from(i >= 90)).collect();
    let weights: Vec<f64> = y.iter().map(|&c| if c == 0 { 1.0 / 90.0 } else { 1.0 / 10.0 }).collect();
    let ds = TensorDataset::from_tensors(Tensor::from_vec(y, &[100]));
    let loader = DataLoader::new(ds, 100).sampler(WeightedRandomSampler::new(weights, 10_000, true));
    assert_eq!(loader.len(), 100);
    let ones: i64 = loader.iter().map(|b| b.to_vec::<i64>().iter().sum::<i64>()).sum();
    assert!((4_700..=5_300).contains(&ones), "{ones} of 10000 from the rare class");
}

#[test]
fn random_sampler_with_replacement_covers_the_range() {
    let mut s = RandomSampler::with_replacement(10, 1000);
    let seen: HashSet<usize> = s.indices().into_iter().collect();
    assert_eq!(seen.len(), 10);
}

#[test]
fn random_split_sizes_and_disjointness() {
    manual_seed(9);
    let parts = random_split(numbered(103), &[0.7, 0.2, 0.1]).unwrap();
    let sizes: Vec<usize> = parts.iter().map(Dataset::len).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 103);
    assert_eq!(sizes, vec![73, 20, 10]);
    let mut all: Vec<usize> = parts.iter().flat_map(|p| p.indices().to_vec()).collect();
    all.sort();
    assert_eq!(all, (0..103).collect::<Vec<_>>(), "disjoint and covering");
    // The subsets return the dataset's rows.
    let (_, y) = parts[1].get(0);
    assert_eq!(y.to_vec::<i64>()[0] as usize, parts[1].indices()[0]);

    manual_seed(9);
    let again = random_split(numbered(103), &[0.7, 0.2, 0.1]).unwrap();
    assert_eq!(again[0].indices(), parts[0].indices(), "reproducible per seed");

    let by_length = random_split(numbered(10), &[6, 4]).unwrap();
    assert_eq!((by_length[0].len(), by_length[1].len()), (6, 4));
    assert!(random_split(numbered(10), &[6, 5]).is_err());
    assert!(random_split(numbered(10), &[0.6, 0.6]).is_err());
}

#[test]
fn split_parts_feed_loaders_with_the_fast_path() {
    let parts = random_split(numbered(20), &[15, 5]).unwrap();
    let expected: Vec<i64> = parts[0].indices().iter().map(|&i| i as i64).collect();
    let loader = DataLoader::new(parts.into_iter().next().unwrap(), 4);
    assert_eq!(epoch(&loader).concat(), expected);
}

#[test]
fn subset_and_concat() {
    let sub = Subset::new(numbered(10), vec![9, 1, 5]);
    let cat = ConcatDataset::new(vec![sub, Subset::new(numbered(3), vec![2])]);
    assert_eq!(cat.len(), 4);
    let loader = DataLoader::new(cat, 2);
    assert_eq!(epoch(&loader), vec![vec![9, 1], vec![5, 2]]);
    assert!(Subset::try_new(numbered(3), vec![3]).is_err());
}
