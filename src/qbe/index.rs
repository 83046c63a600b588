//! The search index: one fixed-size vector per candidate segment of each recording.
//!
//! File layout (all integers little-endian), version 2:
//!
//! ```text
//! offset  size          field
//! 0       8             magic  b"HARKIDX\0"
//! 8       4             format version (u32) = 2
//! 12      4             dim (u32)
//! 16      8             num_files (u64)
//! 24      8             num_vectors (u64)
//! 32      8             file-table length in bytes (u64)
//! 40      8             embedder identity (u64; 0 = unknown), see `Embedder::identity`
//! 48      ...           file table: per file, u32 byte length + UTF-8 path
//! ...     12*num_vec    entries: per vector, u32 file id, f32 start_s, f32 end_s
//! ...     pad to 4      zero bytes so the vectors are 4-byte aligned in the file
//! ...     4*dim*num_vec vectors, f32, unit L2 norm
//! end-8   8             FNV-1a 64 checksum of every byte before it
//! ```
//!
//! Reading memory-maps the file and checks sizes and the checksum before any
//! vector is touched, so a truncated or corrupted index is a clear error, never a
//! panic or a wrong answer. Writing goes through a temporary file and a rename, so an
//! interrupted `hark index` leaves the previous index intact.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"HARKIDX\0";
/// Index format version written and read by this build.
pub const INDEX_VERSION: u32 = 2;
const HEADER_LEN: usize = 48;

/// One indexed segment: which file and which time span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    /// Index into the file table.
    pub file_id: u32,
    /// Segment start, seconds.
    pub start_s: f32,
    /// Segment end, seconds.
    pub end_s: f32,
}

/// A search hit, best first in result lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The recording.
    pub file: String,
    /// Start of the matching span, seconds.
    pub start_s: f32,
    /// End of the matching span, seconds.
    pub end_s: f32,
    /// Cosine similarity (higher is better).
    pub score: f32,
}

/// Where an index's vectors live: owned (being built) or memory-mapped (loaded).
#[derive(Debug)]
enum Storage {
    Owned(Vec<f32>),
    Mapped {
        map: memmap2::Mmap,
        /// Byte offset of the vectors inside the map (4-byte aligned).
        offset: usize,
    },
    /// Mapped, but not usable in place (unaligned or big-endian host): decoded copy.
    Copied(Vec<f32>),
}

/// An in-memory or memory-mapped search index.
#[derive(Debug)]
pub struct Index {
    dim: usize,
    files: Vec<String>,
    entries: Vec<Entry>,
    storage: Storage,
    embedder_id: u64,
    /// 8-bit copy of the vectors for fast scanning, when built.
    fast: Option<Quantized>,
}

/// Vectors quantised to 8 bits, stored list by list when there are coarse lists:
/// the vector at position `p` is entry `ids[p]` (`p` itself without lists) and
/// ≈ `scales[p] · codes[p·dim..(p+1)·dim]`.
#[derive(Debug)]
struct Quantized {
    codes: Vec<i8>,
    scales: Vec<f32>,
    coarse: Option<Coarse>,
}

/// Coarse lists over the 8-bit codes and how many of them a query scans.
#[derive(Debug)]
struct Coarse {
    lists: crate::qbe::coarse::CoarseLists,
    probes: usize,
}

/// How [`Index::build_fast_search_with`] prepares the index for many queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastSearch {
    /// Coarse lists (spherical k-means clusters) the vectors are grouped into; a
    /// query scans only the `probes` lists nearest to it. 0: no lists, every
    /// vector is scanned (results then equal the exact search).
    pub lists: usize,
    /// Lists scanned per query. Larger → closer to the exhaustive scan, slower.
    pub probes: usize,
}

impl FastSearch {
    /// The default for an index of `n` vectors: about `2·√n` lists, a thirty-second of
    /// them probed; none for fewer than 20 000 vectors, where the whole 8-bit scan
    /// costs well under a millisecond.
    pub fn auto(n: usize) -> FastSearch {
        if n < 20_000 {
            return FastSearch {
                lists: 0,
                probes: 0,
            };
        }
        let lists = (2.0 * (n as f64).sqrt()).round() as usize;
        FastSearch {
            lists,
            probes: Self::default_probes(lists),
        }
    }

    /// Lists probed by default out of `lists`: a thirty-second of them.
    pub fn default_probes(lists: usize) -> usize {
        lists.div_ceil(32)
    }
}

/// Symmetric 8-bit quantisation of one vector: codes in −127..=127 and the scale.
fn quantize_into(v: &[f32], codes: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0f32, |m, &x| m.max(x.abs()));
    if max == 0.0 {
        codes.extend(std::iter::repeat_n(0, v.len()));
        return 0.0;
    }
    let inv = 127.0 / max;
    codes.extend(
        v.iter()
            .map(|&x| (x * inv).round().clamp(-127.0, 127.0) as i8),
    );
    max / 127.0
}

/// Integer dot product of two code vectors without SIMD intrinsics (blocks of 16 as
/// fixed-size arrays, so the loop has no bounds checks).
fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| x as i32 * y as i32)
        .sum();
    for (x, y) in ca.zip(cb) {
        let x: &[i8; 16] = x.try_into().expect("invariant: exact chunk");
        let y: &[i8; 16] = y.try_into().expect("invariant: exact chunk");
        for j in 0..16 {
            acc[j] += x[j] as i32 * y[j] as i32;
        }
    }
    acc.iter().sum::<i32>() + tail
}

/// # Safety
/// The CPU must support AVX2; `a` and `b` must have the same length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let blocks = n / 16;
    let mut acc = _mm256_setzero_si256();
    for i in 0..blocks {
        // SAFETY: 16 bytes at 16·i lie inside both slices (i < n / 16).
        let (x, y) = unsafe {
            (
                _mm_loadu_si128(a.as_ptr().add(16 * i) as *const __m128i),
                _mm_loadu_si128(b.as_ptr().add(16 * i) as *const __m128i),
            )
        };
        // Sign-extend to 16 bits; pairwise products summed into 8 × i32 (no
        // overflow: |x·y| ≤ 127² and two of them fit easily).
        let p = _mm256_madd_epi16(_mm256_cvtepi8_epi16(x), _mm256_cvtepi8_epi16(y));
        acc = _mm256_add_epi32(acc, p);
    }
    let s = _mm_add_epi32(
        _mm256_castsi256_si128(acc),
        _mm256_extracti128_si256(acc, 1),
    );
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    let tail: i32 = a[16 * blocks..n]
        .iter()
        .zip(&b[16 * blocks..n])
        .map(|(&x, &y)| x as i32 * y as i32)
        .sum();
    _mm_cvtsi128_si32(s) + tail
}

/// Integer dot products of `q` with each `q.len()`-sized code vector of `codes`,
/// appended to `out`: AVX2 multiply-adds where the CPU has them (one call per list,
/// so the loop runs without a call per vector), else a portable loop.
fn dot_i8_many(q: &[i8], codes: &[i8], out: &mut Vec<i32>) {
    let dim = q.len();
    if dim == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked); every chunk holds `dim` values.
        unsafe { dot_i8_many_avx2(q, codes, out) };
        return;
    }
    out.extend(codes.chunks_exact(dim).map(|c| dot_i8_portable(q, c)));
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_many_avx2(q: &[i8], codes: &[i8], out: &mut Vec<i32>) {
    out.extend(
        codes
            .chunks_exact(q.len())
            // SAFETY: AVX2 is present (the caller's contract); equal lengths.
            .map(|c| unsafe { dot_i8_avx2(q, c) }),
    );
}

/// Hints the CPU to load the cache line at `p` soon (no effect elsewhere).
#[inline]
fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// FNV-1a 64 offset basis: the hash of no bytes.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Continues an FNV-1a 64 hash `h` over `bytes`.
pub(crate) fn fnv1a_extend(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_extend(FNV_OFFSET, bytes)
}

impl Index {
    /// An empty index of vectors of size `dim`.
    pub fn new(dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::Config("index vector dimension must be > 0".into()));
        }
        Ok(Index {
            dim,
            files: Vec::new(),
            entries: Vec::new(),
            storage: Storage::Owned(Vec::new()),
            embedder_id: 0,
            fast: None,
        })
    }

    /// Identity of the encoder and front end that made the vectors (0 = unknown).
    pub fn embedder_id(&self) -> u64 {
        self.embedder_id
    }

    /// Records which encoder and front end made the vectors.
    pub fn set_embedder_id(&mut self, id: u64) {
        self.embedder_id = id;
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of indexed segments.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index holds no segment.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The recordings in the index.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The segment entries, in vector order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// All vectors, row-major `[len, dim]`.
    pub fn vectors(&self) -> &[f32] {
        match &self.storage {
            Storage::Owned(v) | Storage::Copied(v) => v,
            Storage::Mapped { map, offset } => {
                let bytes = &map[*offset..*offset + self.entries.len() * self.dim * 4];
                // SAFETY: every bit pattern is a valid f32; `load` checked that this
                // range is 4-byte aligned (empty prefix) on a little-endian host.
                let (pre, floats, _) = unsafe { bytes.align_to::<f32>() };
                debug_assert!(pre.is_empty());
                floats
            }
        }
    }

    /// Builds an 8-bit copy of the vectors (a quarter of their memory) that
    /// [`Index::search`] then scans instead of the float vectors, re-scoring only the
    /// best candidates exactly: worth it when one loaded index answers many queries
    /// (the scan is memory-bound). Dropped when the index changes.
    pub fn build_fast_search(&mut self) {
        self.build_fast_search_with(FastSearch {
            lists: 0,
            probes: 0,
        });
    }

    /// [`Index::build_fast_search`] with coarse lists (see [`FastSearch`]): the 8-bit
    /// codes are grouped by list and a query scans only the lists nearest to it, so
    /// a search touches about `probes / lists` of the index. If those lists hold
    /// fewer than `k` hits after overlap suppression, the search falls back to the
    /// whole scan.
    pub fn build_fast_search_with(&mut self, config: FastSearch) {
        let dim = self.dim;
        let vectors = self.vectors();
        let coarse = (config.lists > 1 && config.probes > 0).then(|| Coarse {
            lists: crate::qbe::coarse::CoarseLists::build(vectors, dim, config.lists),
            probes: config.probes,
        });
        let mut codes = Vec::with_capacity(self.entries.len() * dim);
        let scales = match &coarse {
            None => vectors
                .chunks_exact(dim)
                .map(|v| quantize_into(v, &mut codes))
                .collect(),
            Some(c) => c
                .lists
                .ids
                .iter()
                .map(|&i| {
                    quantize_into(
                        &vectors[i as usize * dim..(i as usize + 1) * dim],
                        &mut codes,
                    )
                })
                .collect(),
        };
        self.fast = Some(Quantized {
            codes,
            scales,
            coarse,
        });
    }

    /// Whether [`Index::build_fast_search`] is in effect.
    pub fn has_fast_search(&self) -> bool {
        self.fast.is_some()
    }

    fn make_owned(&mut self) {
        self.fast = None;
        if let Storage::Mapped { .. } = self.storage {
            let v = self.vectors().to_vec();
            self.storage = Storage::Owned(v);
        }
        if let Storage::Copied(v) = &mut self.storage {
            let v = std::mem::take(v);
            self.storage = Storage::Owned(v);
        }
    }

    /// Whether `file` is already indexed.
    pub fn contains_file(&self, file: &str) -> bool {
        self.files.iter().any(|f| f == file)
    }

    /// Adds the segments of one recording. Vectors are L2-normalised on the way in;
    /// `vectors` is `[spans.len(), dim]` row-major. A file already present is
    /// replaced.
    pub fn add_file(&mut self, file: &str, spans: &[(f32, f32)], vectors: &[f32]) -> Result<()> {
        if vectors.len() != spans.len() * self.dim {
            return Err(Error::dim(
                "Index::add_file",
                format!("{} floats", spans.len() * self.dim),
                vectors.len(),
            ));
        }
        if vectors.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                op: format!("segment vectors of {file}"),
            });
        }
        self.remove_file(file);
        self.make_owned();
        let file_id = self.files.len() as u32;
        self.files.push(file.to_string());
        let Storage::Owned(store) = &mut self.storage else {
            unreachable!("make_owned leaves owned storage")
        };
        for (i, &(start_s, end_s)) in spans.iter().enumerate() {
            let v = &vectors[i * self.dim..(i + 1) * self.dim];
            let norm = v
                .iter()
                .map(|&x| (x as f64) * (x as f64))
                .sum::<f64>()
                .sqrt();
            let inv = if norm > 0.0 { (1.0 / norm) as f32 } else { 0.0 };
            store.extend(v.iter().map(|&x| x * inv));
            self.entries.push(Entry {
                file_id,
                start_s,
                end_s,
            });
        }
        Ok(())
    }

    /// Removes a recording and its segments (no-op when absent).
    pub fn remove_file(&mut self, file: &str) {
        let Some(fid) = self.files.iter().position(|f| f == file) else {
            return;
        };
        self.make_owned();
        let dim = self.dim;
        let Storage::Owned(store) = &mut self.storage else {
            unreachable!("make_owned leaves owned storage")
        };
        let mut new_store = Vec::with_capacity(store.len());
        let mut new_entries = Vec::with_capacity(self.entries.len());
        for (i, e) in self.entries.iter().enumerate() {
            if e.file_id as usize == fid {
                continue;
            }
            let mut e = *e;
            if e.file_id as usize > fid {
                e.file_id -= 1;
            }
            new_entries.push(e);
            new_store.extend_from_slice(&store[i * dim..(i + 1) * dim]);
        }
        *store = new_store;
        self.entries = new_entries;
        self.files.remove(fid);
    }

    /// Serialises the index (format described in the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut table = Vec::new();
        for f in &self.files {
            table.extend_from_slice(&(f.len() as u32).to_le_bytes());
            table.extend_from_slice(f.as_bytes());
        }
        let mut out = Vec::with_capacity(HEADER_LEN + table.len() + self.vectors().len() * 4 + 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(self.files.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        out.extend_from_slice(&(table.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.embedder_id.to_le_bytes());
        out.extend_from_slice(&table);
        for e in &self.entries {
            out.extend_from_slice(&e.file_id.to_le_bytes());
            out.extend_from_slice(&e.start_s.to_le_bytes());
            out.extend_from_slice(&e.end_s.to_le_bytes());
        }
        while out.len() % 4 != 0 {
            out.push(0);
        }
        for v in self.vectors() {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Writes the index to `path` atomically (temporary file + rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fsio::write_atomic(path, &self.to_bytes())
    }

    /// Memory-maps and validates an index file.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |msg: String| Error::Index {
            path: PathBuf::from(path),
            msg,
        };
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, "opening", e))?;
        // SAFETY: the map is read-only; hark never writes index files in place (writes
        // go to a temporary file that is renamed), so the mapped bytes do not change
        // under us unless another program truncates the file, as with any mmap reader.
        let map =
            unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, "mapping", e))?;
        let b: &[u8] = &map;
        if b.len() < HEADER_LEN + 8 || &b[..8] != MAGIC {
            return Err(bad("not a hark index (bad magic or too short)".into()));
        }
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(a)
        };
        let version = u32_at(8);
        if version != INDEX_VERSION {
            return Err(bad(format!(
                "index format version {version} is not supported (this hark reads {INDEX_VERSION}); rebuild it with `hark index`"
            )));
        }
        let dim = u32_at(12) as usize;
        let num_files = u64_at(16);
        let num_vectors = u64_at(24);
        let table_len = u64_at(32);
        let embedder_id = u64_at(40);
        let body_len = (b.len() - 8) as u64;
        let stored_sum = u64_at(b.len() - 8);
        if fnv1a(&b[..b.len() - 8]) != stored_sum {
            return Err(bad(
                "checksum mismatch: the index is corrupted or truncated".into(),
            ));
        }
        if dim == 0 {
            return Err(bad("vector dimension is 0".into()));
        }
        // All sizes in u64 with checked arithmetic: a hostile header cannot overflow.
        let size_err = || bad("sizes in the header do not match the file length".into());
        let entries_off = (HEADER_LEN as u64)
            .checked_add(table_len)
            .ok_or_else(size_err)?;
        let entries_len = num_vectors.checked_mul(12).ok_or_else(size_err)?;
        let mut vec_off = entries_off.checked_add(entries_len).ok_or_else(size_err)?;
        vec_off = vec_off.div_ceil(4) * 4;
        let vec_len = num_vectors
            .checked_mul(dim as u64)
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(size_err)?;
        if vec_off.checked_add(vec_len).ok_or_else(size_err)? != body_len {
            return Err(size_err());
        }
        let (entries_off, num_vectors, vec_off) =
            (entries_off as usize, num_vectors as usize, vec_off as usize);
        // File table.
        let mut files = Vec::new();
        let mut o = HEADER_LEN;
        for i in 0..num_files {
            if o + 4 > entries_off {
                return Err(bad(format!("file table ends early at file {i}")));
            }
            let n = u32_at(o) as usize;
            o += 4;
            if o + n > entries_off {
                return Err(bad(format!("file table ends early at file {i}")));
            }
            let name = std::str::from_utf8(&b[o..o + n])
                .map_err(|_| bad(format!("file name {i} is not UTF-8")))?;
            files.push(name.to_string());
            o += n;
        }
        if o != entries_off {
            return Err(bad("file table length does not match its contents".into()));
        }
        let mut entries = Vec::with_capacity(num_vectors);
        for i in 0..num_vectors {
            let p = entries_off + 12 * i;
            let file_id = u32_at(p);
            let start_s = f32::from_bits(u32_at(p + 4));
            let end_s = f32::from_bits(u32_at(p + 8));
            if file_id as usize >= files.len() {
                return Err(bad(format!(
                    "entry {i} names file {file_id} of {}",
                    files.len()
                )));
            }
            if !(start_s.is_finite() && end_s.is_finite() && start_s <= end_s) {
                return Err(bad(format!("entry {i} has a bad time span")));
            }
            entries.push(Entry {
                file_id,
                start_s,
                end_s,
            });
        }
        let vec_bytes = &b[vec_off..vec_off + vec_len as usize];
        let aligned = cfg!(target_endian = "little")
            // SAFETY: only inspects alignment; f32 has no invalid bit patterns.
            && unsafe { vec_bytes.align_to::<f32>() }.0.is_empty();
        let storage = if aligned {
            Storage::Mapped {
                map,
                offset: vec_off,
            }
        } else {
            Storage::Copied(
                vec_bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        };
        let index = Index {
            dim,
            files,
            entries,
            storage,
            embedder_id,
            fast: None,
        };
        if index.vectors().iter().any(|v| !v.is_finite()) {
            return Err(bad("non-finite value in the vectors".into()));
        }
        Ok(index)
    }

    /// Cosine nearest neighbours of `query` with non-maximum suppression: a hit is
    /// dropped when it overlaps a better hit in the same file by more than
    /// `max_overlap` of the shorter span. Returns at most `k` hits, best first.
    pub fn search(&self, query: &[f32], k: usize, max_overlap: f32) -> Result<Vec<Hit>> {
        if query.len() != self.dim {
            return Err(Error::dim("Index::search", self.dim, query.len()));
        }
        let norm = query
            .iter()
            .map(|&x| (x as f64) * (x as f64))
            .sum::<f64>()
            .sqrt();
        if !norm.is_finite() {
            return Err(Error::NonFinite {
                op: "query vector".into(),
            });
        }
        let inv = if norm > 0.0 { (1.0 / norm) as f32 } else { 0.0 };
        let q: Vec<f32> = query.iter().map(|&x| x * inv).collect();
        let vecs = self.vectors();
        let exact = |i: usize| dot(&q, &vecs[i * self.dim..(i + 1) * self.dim]);
        // Approximate scores of the positions `range` of the 8-bit codes.
        let scan = |fast: &Quantized,
                    qc: &[i8],
                    qs: f32,
                    range: std::ops::Range<usize>,
                    dots: &mut Vec<i32>,
                    out: &mut Vec<(f32, usize)>| {
            let dim = self.dim;
            let codes = &fast.codes[range.start * dim..range.end * dim];
            let scales = &fast.scales[range.clone()];
            let ids = fast.coarse.as_ref().map(|c| &c.lists.ids[range.clone()]);
            dots.clear();
            dot_i8_many(qc, codes, dots);
            for (p, (&d, &s)) in dots.iter().zip(scales).enumerate() {
                let id = match ids {
                    Some(ids) => ids[p] as usize,
                    None => range.start + p,
                };
                out.push((qs * s * d as f32, id));
            }
        };
        // The query is quantised once; candidates come from the given coarse lists,
        // or from every vector.
        let quantized = self.fast.as_ref().map(|_| {
            let mut qc = Vec::with_capacity(self.dim);
            let qs = quantize_into(&q, &mut qc);
            (qc, qs)
        });
        let candidates = |lists: Option<&[usize]>| -> Vec<(f32, usize)> {
            let (Some(fast), Some((qc, qs))) = (&self.fast, &quantized) else {
                return (0..self.entries.len()).map(|i| (exact(i), i)).collect();
            };
            // One buffer of integer dot products, reused list after list.
            let (mut out, mut dots) = (Vec::new(), Vec::new());
            match (lists, &fast.coarse) {
                (Some(lists), Some(c)) => {
                    for &l in lists {
                        let range = c.lists.offsets[l]..c.lists.offsets[l + 1];
                        scan(fast, qc, *qs, range, &mut dots, &mut out);
                    }
                }
                _ => scan(fast, qc, *qs, 0..fast.scales.len(), &mut dots, &mut out),
            }
            out
        };
        // With coarse lists, the nearest lists are scanned first; when they give
        // fewer than k hits, everything is.
        if let Some(Quantized {
            coarse: Some(c), ..
        }) = &self.fast
        {
            let lists = c.lists.probe(&q, c.probes);
            let hits = self.rank(candidates(Some(&lists)), &exact, k, max_overlap);
            if hits.len() >= k {
                return Ok(hits);
            }
        }
        Ok(self.rank(candidates(None), &exact, k, max_overlap))
    }

    /// Ranks candidate `(score, entry)` pairs (8-bit scores are re-scored with
    /// `exact`) and keeps the best `k` after overlap suppression.
    fn rank(
        &self,
        mut cands: Vec<(f32, usize)>,
        exact: &dyn Fn(usize) -> f32,
        k: usize,
        max_overlap: f32,
    ) -> Vec<Hit> {
        let better = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        // Only the best candidates are sorted (a linear-time selection first); when
        // suppression leaves fewer than k hits among them, the pool grows (selection
        // permutes `cands` but keeps its contents, so it can be redone).
        let mut pool = (k.saturating_mul(4)).max(256);
        let hits = loop {
            let n = pool.min(cands.len());
            if n > 0 && n < cands.len() {
                cands.select_nth_unstable_by(n - 1, better);
            }
            // With the 8-bit scan, approximate scores chose the pool; it is ranked by
            // exact ones (kept apart, so a grown pool is chosen consistently).
            let mut top: Vec<(f32, usize)> = if self.fast.is_some() {
                // The vectors lie scattered over the whole index: fetch a few ahead
                // so their cache misses overlap.
                const AHEAD: usize = 8;
                let vecs = self.vectors();
                let pool = &cands[..n];
                let fetch = |j: usize| {
                    if let Some(&(_, i)) = pool.get(j) {
                        let v = &vecs[i * self.dim..(i + 1) * self.dim];
                        for line in v.chunks(16) {
                            prefetch(line.as_ptr());
                        }
                    }
                };
                (0..AHEAD).for_each(fetch);
                pool.iter()
                    .enumerate()
                    .map(|(j, &(_, i))| {
                        fetch(j + AHEAD);
                        (exact(i), i)
                    })
                    .collect()
            } else {
                cands[..n].to_vec()
            };
            top.sort_unstable_by(better);
            // Kept hits per file, for suppression within a file only.
            let mut kept: std::collections::HashMap<u32, Vec<(f32, f32)>> =
                std::collections::HashMap::new();
            let mut hits: Vec<(Entry, f32)> = Vec::new();
            for &(score, i) in &top {
                if hits.len() >= k {
                    break;
                }
                let e = self.entries[i];
                let spans = kept.entry(e.file_id).or_default();
                let suppressed = spans
                    .iter()
                    .any(|&h| overlap_fraction(h, (e.start_s, e.end_s)) > max_overlap);
                if !suppressed {
                    spans.push((e.start_s, e.end_s));
                    hits.push((e, score));
                }
            }
            if hits.len() >= k || n >= cands.len() {
                break hits;
            }
            pool = pool.saturating_mul(2);
        };
        hits.into_iter()
            .map(|(e, score)| Hit {
                file: self.files[e.file_id as usize].clone(),
                start_s: e.start_s,
                end_s: e.end_s,
                score,
            })
            .collect()
    }
}

/// Dot product with eight independent accumulators over exact chunks (no bounds
/// checks in the loop, so the compiler vectorises it).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Overlap of two spans as a fraction of the shorter one (0 when disjoint).
pub fn overlap_fraction(a: (f32, f32), b: (f32, f32)) -> f32 {
    let inter = (a.1.min(b.1) - a.0.max(b.0)).max(0.0);
    let shorter = (a.1 - a.0).min(b.1 - b.0);
    if shorter <= 0.0 {
        return if inter > 0.0 { 1.0 } else { 0.0 };
    }
    inter / shorter
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hark-idx-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join("x.idx")
    }

    fn sample() -> Index {
        let mut ix = Index::new(3).unwrap();
        ix.add_file(
            "a.wav",
            &[(0.0, 0.5), (0.25, 0.75)],
            &[1.0, 0.0, 0.0, 0.9, 0.1, 0.0],
        )
        .unwrap();
        ix.add_file("b.wav", &[(1.0, 1.5)], &[0.0, 2.0, 0.0])
            .unwrap();
        ix
    }

    #[test]
    fn save_load_is_lossless() {
        let p = tmp("rt");
        let ix = sample();
        ix.save(&p).unwrap();
        let back = Index::load(&p).unwrap();
        assert_eq!(back.files(), ix.files());
        assert_eq!(back.entries(), ix.entries());
        assert_eq!(back.vectors(), ix.vectors());
        assert_eq!(back.to_bytes(), ix.to_bytes());
    }

    #[test]
    fn search_ranks_by_cosine_and_suppresses_overlaps() {
        let ix = sample();
        let hits = ix.search(&[1.0, 0.0, 0.0], 3, 0.5).unwrap();
        // (0,0.5) scores 1.0; (0.25,0.75) overlaps it by 0.25/0.5 = 50%: kept (not > 50%).
        assert_eq!(hits[0].file, "a.wav");
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        assert_eq!(hits.len(), 3);
        let strict = ix.search(&[1.0, 0.0, 0.0], 3, 0.4).unwrap();
        assert_eq!(strict.len(), 2);
        assert_eq!(strict[1].file, "b.wav");
        assert!(strict[1].score.abs() < 1e-6);
    }

    #[test]
    fn truncated_or_corrupted_index_is_an_error() {
        let p = tmp("bad");
        let bytes = sample().to_bytes();
        for cut in [0, 7, 20, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let e = Index::load(&p).unwrap_err().to_string();
            assert!(e.contains("x.idx"), "{e}");
        }
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN + 2] ^= 0x40;
        std::fs::write(&p, &flipped).unwrap();
        assert!(
            Index::load(&p)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        let mut future = bytes;
        future[8] = 9;
        let n = future.len();
        let sum = fnv1a(&future[..n - 8]);
        future[n - 8..].copy_from_slice(&sum.to_le_bytes());
        std::fs::write(&p, &future).unwrap();
        assert!(
            Index::load(&p)
                .unwrap_err()
                .to_string()
                .contains("version 9")
        );
    }

    #[test]
    fn adding_an_existing_file_replaces_it() {
        let mut ix = sample();
        ix.add_file("a.wav", &[(2.0, 2.5)], &[0.0, 0.0, 1.0])
            .unwrap();
        assert_eq!(ix.files(), &["b.wav".to_string(), "a.wav".to_string()]);
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.entries()[0].file_id, 0);
        assert_eq!(ix.entries()[1].file_id, 1);
        let hits = ix.search(&[0.0, 0.0, 1.0], 1, 0.5).unwrap();
        assert_eq!(hits[0].file, "a.wav");
        assert_eq!(hits[0].start_s, 2.0);
    }

    #[test]
    fn extend_after_load_keeps_old_vectors() {
        let p = tmp("ext");
        sample().save(&p).unwrap();
        let mut ix = Index::load(&p).unwrap();
        ix.add_file("c.wav", &[(0.0, 1.0)], &[0.0, 0.0, 5.0])
            .unwrap();
        ix.save(&p).unwrap();
        let back = Index::load(&p).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(&back.vectors()[..3], &[1.0, 0.0, 0.0]);
    }

    #[test]
    fn partial_selection_equals_full_sort_with_suppression() {
        // Many near-duplicate windows in one file force the candidate pool to grow.
        let mut rng = crate::rng::Rng::new(4);
        let mut ix = Index::new(4).unwrap();
        for f in 0..3 {
            let n = 900;
            let spans: Vec<(f32, f32)> = (0..n)
                .map(|i| (i as f32 * 0.01, i as f32 * 0.01 + 0.5))
                .collect();
            let base: Vec<f32> = (0..4).map(|_| rng.normal() as f32).collect();
            let vecs: Vec<f32> = (0..n * 4)
                .map(|j| base[j % 4] + 0.05 * rng.normal() as f32)
                .collect();
            ix.add_file(&format!("f{f}.wav"), &spans, &vecs).unwrap();
        }
        let q = [0.3f32, -0.2, 0.9, 0.1];
        for k in [1, 5, 40] {
            let got = ix.search(&q, k, 0.2).unwrap();
            // Reference: sort everything, then suppress.
            let qn: f32 = q.iter().map(|x| x * x).sum::<f32>().sqrt();
            let mut all: Vec<(f32, usize)> = ix
                .vectors()
                .chunks_exact(4)
                .enumerate()
                .map(|(i, v)| (dot(&q, v) / qn, i))
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut want: Vec<Entry> = Vec::new();
            for (_, i) in all {
                let e = ix.entries()[i];
                if want.len() < k
                    && !want.iter().any(|h| {
                        h.file_id == e.file_id
                            && overlap_fraction((h.start_s, h.end_s), (e.start_s, e.end_s)) > 0.2
                    })
                {
                    want.push(e);
                }
            }
            assert_eq!(got.len(), want.len(), "k={k}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((g.start_s, g.end_s), (w.start_s, w.end_s), "k={k}");
                assert_eq!(g.file, ix.files()[w.file_id as usize]);
            }
        }
    }

    /// One code vector's dot product through [`dot_i8_many`].
    fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        let mut out = Vec::new();
        dot_i8_many(a, b, &mut out);
        assert!(out.len() <= 1);
        out.first().copied().unwrap_or(0)
    }

    #[test]
    fn many_code_vectors_at_once_equal_one_at_a_time() {
        let q: Vec<i8> = (0..64).map(|i| (i * 37 % 255 - 127) as i8).collect();
        let codes: Vec<i8> = (0..64 * 5).map(|i| (i * 11 % 255 - 127) as i8).collect();
        let mut out = vec![7];
        dot_i8_many(&q, &codes, &mut out);
        let want: Vec<i32> = std::iter::once(7)
            .chain(codes.chunks(64).map(|c| dot_i8_portable(&q, c)))
            .collect();
        assert_eq!(out, want);
    }

    #[test]
    fn int8_codes_by_hand() {
        let mut c = Vec::new();
        let s = quantize_into(&[0.5, -0.25, 0.0, 1.0], &mut c);
        assert_eq!(c, vec![64, -32, 0, 127]); // 63.5 rounds away from zero
        assert!((s - 1.0 / 127.0).abs() < 1e-9);
        assert_eq!(dot_i8(&[1, -2, 3], &[4, 5, -6]), 4 - 10 - 18);
        let a: Vec<i8> = (0..37).map(|i| (i * 7 % 255 - 127) as i8).collect();
        let want: i32 = a.iter().map(|&x| x as i32 * x as i32).sum();
        assert_eq!(dot_i8(&a, &a), want);
        // Every kernel equals the plain sum at the extremes (−127·−127 in every lane,
        // mixed signs) and at lengths around the 16-lane blocks.
        // Every third value −127, the others spread over −127..=127 by `step`.
        let codes = |n: usize, step: i32| -> Vec<i8> {
            (0..n)
                .map(|i| {
                    if i % 3 == 0 {
                        -127
                    } else {
                        (i as i32 * step % 255 - 127) as i8
                    }
                })
                .collect()
        };
        for n in [0usize, 1, 15, 16, 17, 31, 32, 33, 64, 100] {
            let (x, y) = (codes(n, 37), codes(n, 11));
            let want: i32 = x.iter().zip(&y).map(|(&p, &q)| p as i32 * q as i32).sum();
            assert_eq!(dot_i8_portable(&x, &y), want, "n={n}");
            assert_eq!(dot_i8(&x, &y), want, "n={n}");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 checked; equal lengths.
                assert_eq!(unsafe { dot_i8_avx2(&x, &y) }, want, "n={n}");
            }
        }
        let mut z = Vec::new();
        assert_eq!(quantize_into(&[0.0, 0.0], &mut z), 0.0);
        assert_eq!(z, vec![0, 0]);
    }

    #[test]
    fn fast_search_equals_exact_search() {
        let mut rng = crate::rng::Rng::new(9);
        let dim = 64;
        let mut ix = Index::new(dim).unwrap();
        for f in 0..20 {
            let n = 150;
            let spans: Vec<(f32, f32)> = (0..n)
                .map(|i| (i as f32 * 0.06, i as f32 * 0.06 + 0.5))
                .collect();
            let vecs: Vec<f32> = (0..n * dim).map(|_| rng.normal() as f32).collect();
            ix.add_file(&format!("f{f}.wav"), &spans, &vecs).unwrap();
        }
        let queries: Vec<Vec<f32>> = (0..10)
            .map(|_| (0..dim).map(|_| rng.normal() as f32).collect())
            .collect();
        let exact: Vec<_> = queries
            .iter()
            .map(|q| ix.search(q, 30, 0.2).unwrap())
            .collect();
        ix.build_fast_search();
        assert!(ix.has_fast_search());
        for (q, want) in queries.iter().zip(&exact) {
            assert_eq!(&ix.search(q, 30, 0.2).unwrap(), want);
        }
        // Changing the index drops the 8-bit copy.
        ix.remove_file("f0.wav");
        assert!(!ix.has_fast_search());
    }

    #[test]
    fn coarse_lists_search() {
        let mut rng = crate::rng::Rng::new(11);
        let dim = 16;
        let mut ix = Index::new(dim).unwrap();
        for f in 0..10 {
            let n = 100;
            let spans: Vec<(f32, f32)> = (0..n).map(|i| (i as f32, i as f32 + 0.5)).collect();
            let vecs: Vec<f32> = (0..n * dim).map(|_| rng.normal() as f32).collect();
            ix.add_file(&format!("f{f}.wav"), &spans, &vecs).unwrap();
        }
        let queries: Vec<Vec<f32>> = (0..5)
            .map(|_| (0..dim).map(|_| rng.normal() as f32).collect())
            .collect();
        let exact: Vec<_> = queries
            .iter()
            .map(|q| ix.search(q, 20, 0.2).unwrap())
            .collect();
        // Probing every list is the exhaustive scan.
        ix.build_fast_search_with(FastSearch {
            lists: 8,
            probes: 8,
        });
        for (q, want) in queries.iter().zip(&exact) {
            assert_eq!(&ix.search(q, 20, 0.2).unwrap(), want);
        }
        // One list probed: an indexed vector still finds itself first (its list is
        // the one of its nearest centroid), and a k beyond what one list holds
        // falls back to the whole scan.
        ix.build_fast_search_with(FastSearch {
            lists: 8,
            probes: 1,
        });
        for i in [0, 333, 999] {
            let v = ix.vectors()[i * dim..(i + 1) * dim].to_vec();
            let hits = ix.search(&v, 1, 0.2).unwrap();
            let e = ix.entries()[i];
            assert_eq!(hits[0].file, ix.files()[e.file_id as usize]);
            assert_eq!(hits[0].start_s, e.start_s);
            assert!((hits[0].score - 1.0).abs() < 1e-5);
        }
        assert_eq!(ix.search(&queries[0], 900, 0.2).unwrap().len(), 900);
        assert_eq!(FastSearch::auto(1000).lists, 0);
        assert_eq!(
            FastSearch::auto(250_000),
            FastSearch {
                lists: 1000,
                probes: 32
            }
        );
    }

    #[test]
    fn overlap_fraction_by_hand() {
        assert_eq!(overlap_fraction((0.0, 1.0), (0.5, 2.0)), 0.5);
        assert_eq!(overlap_fraction((0.0, 1.0), (1.0, 2.0)), 0.0);
        assert_eq!(overlap_fraction((0.0, 4.0), (1.0, 2.0)), 1.0);
    }
}
