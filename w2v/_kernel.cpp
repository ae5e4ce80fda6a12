// The CPU training kernel: skip-gram / CBOW with negative sampling, Hogwild threads.
//
// Python prepares each chunk with numpy (subsampling, reduced windows: w2v/corpus.py) and calls
// w2v_train_chunk on it. For every centre word the kernel gathers its context words and draws its
// noise words from an alias table built from unigram^0.75 (planned one window ahead), then trains:
//   pair / pool (skip-gram, word2vec.c's way): each (context, centre) pair against the centre and
//     its K noise words (fresh, or picked from the window's 2K), targets in turn;
//   window (skip-gram): one SGD step on the window's loss, its pairs sharing K noise words:
//     scores  S = X · Tᵀ          X: contexts' input rows (n × d), T: centre + K noise output rows
//     G       = (label − σ(S)) · lr                       (n × (1+K))
//     X      += G · T      T += Gᵀ · X                    (both from the old values)
//   cbow: the mean of the context rows against the centre and K noise words, targets in turn.
// Each is done in two passes over the rows it touches (all scores, then all updates) and gives
// exactly the update of its definition (see tests/test_kernel.py). Threads split the chunk, take
// over what another has left when they finish early, and update the shared tables without locks,
// as word2vec.c and gensim do.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

struct Rng {  // splitmix64: tiny, fast, good enough for sampling
  uint64_t s;
  inline uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  inline float uniform() { return (float)(next() >> 40) * (1.0f / 16777216.0f); }
};

// Row primitives on 8-wide vectors (GCC/Clang vector extensions: AVX with -march=native, split
// into narrower instructions elsewhere). Four accumulators hide the latency of the FMA chain.
typedef float v8 __attribute__((vector_size(32)));
inline v8 load8(const float* p) { v8 v; __builtin_memcpy(&v, p, sizeof v); return v; }
inline void store8(float* p, v8 v) { __builtin_memcpy(p, &v, sizeof v); }

inline float dot(const float* __restrict a, const float* __restrict b, int64_t d) {
  v8 s0 = {}, s1 = {}, s2 = {}, s3 = {};
  int64_t i = 0;
  for (; i + 32 <= d; i += 32) {
    s0 += load8(a + i) * load8(b + i);
    s1 += load8(a + i + 8) * load8(b + i + 8);
    s2 += load8(a + i + 16) * load8(b + i + 16);
    s3 += load8(a + i + 24) * load8(b + i + 24);
  }
  for (; i + 8 <= d; i += 8) s0 += load8(a + i) * load8(b + i);
  v8 s = (s0 + s1) + (s2 + s3);
  float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < d; ++i) r += a[i] * b[i];
  return r;
}

inline void axpy(float g, const float* __restrict x, float* __restrict y, int64_t d) {
  for (int64_t i = 0; i < d; ++i) y[i] += g * x[i];
}

// e += g·t and t += g·x in one pass over t (t as it was before this update feeds e)
inline void pair_update(float g, const float* __restrict x, float* __restrict t, float* __restrict e,
                        int64_t d) {
  for (int64_t i = 0; i < d; ++i) {
    const float ti = t[i];
    e[i] += g * ti;
    t[i] = ti + g * x[i];
  }
}

// σ from a table with linear interpolation: error below 1e-5, several times cheaper than exp
constexpr int SIG_N = 2048;
constexpr float SIG_MAX = 10.f;
struct SigmoidTable {
  float v[SIG_N + 2];
  SigmoidTable() {
    for (int i = 0; i <= SIG_N + 1; ++i) v[i] = 1.f / (1.f + std::exp(-(i * (2 * SIG_MAX / SIG_N) - SIG_MAX)));
  }
};
const SigmoidTable SIG;
// A NaN score (the tables overflowed: the learning rate is too high) is no table index: it comes
// back as NaN, so the update and the loss carry it on to the trainer, which stops the run.
inline float sigmoid(float x) {
  if (x >= SIG_MAX) return 1.f;
  if (x <= -SIG_MAX) return 0.f;
  if (std::isnan(x)) return x;
  const float f = (x + SIG_MAX) * (SIG_N / (2 * SIG_MAX));
  const int i = (int)f;  // x is a number in (-SIG_MAX, SIG_MAX): 0 <= i <= SIG_N, and v has SIG_N + 2
  return SIG.v[i] + (f - i) * (SIG.v[i + 1] - SIG.v[i]);
}

inline double log_sigmoid(double x) {  // finite for any x
  return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x));
}

struct Args {
  float* win;
  float* wout;
  int64_t n_vocab, dim;
  const int32_t* ids;
  const int32_t* para;
  const int32_t* reduced;
  int64_t n;
  const float* alias_prob;
  const int32_t* alias_idx;
  int32_t negative, cbow, noise_pool;
  float lr_start, lr_end;
  int32_t loss_every;
};

// One noise word from the alias table of unigram^0.75: a uniform slot, then it or its alias.
inline int32_t draw_noise(Rng& rng, const Args& a) {
  uint32_t j = (uint32_t)(((rng.next() >> 32) * (uint64_t)a.n_vocab) >> 32);
  return rng.uniform() < a.alias_prob[j] ? (int32_t)j : a.alias_idx[j];
}

// A thread's loss sums: over the tracked pairs (every loss_every-th centre word), and pairs trained.
struct Losses {
  double pos = 0, neg = 0, tracked = 0, pairs = 0;
  inline void add(float s, bool positive) {
    if (positive) pos -= log_sigmoid(s);
    else neg -= log_sigmoid(-s);
  }
};

// A window made ready one window ahead: its context words, its centre and K shared noise words
// (tgt), and for the pair modes every pair's K noise words (noise), drawn in the order the kernel
// always drew them, so a seed trains the same vectors. Planning the next window before training
// this one lets its rows load from memory while this one computes.
struct Plan {
  int64_t i = -1, nc = 0;         // position (-1: none left), number of context words
  std::vector<int32_t> ctx, tgt;  // the window's context words; its centre and K noise words
  std::vector<char> active;       // tgt[k] takes part (a noise word equal to the centre does not)
  std::vector<int32_t> pool;      // noise words drawn for the window's pairs
  std::vector<int32_t> noise;     // each pair's K noise words (pair and pool modes)
  Plan(int64_t max_ctx, int64_t K) : ctx(max_ctx + 1), tgt(K + 1), active(K + 1) {}
};

// A thread's scratch space, sized for the widest window of its range.
struct Scratch {
  std::vector<float> S, G, E, h;  // scores, scores turned gradients, input-side updates, the CBOW mean
  std::vector<const float*> T, X;
  std::vector<float*> rows;       // a window's distinct context rows
  std::vector<int32_t> row_id;    // ...their word ids
  std::vector<int> at;            // each context word's place among them
  // sizes in 64 bits: no product of the settings wraps around
  Scratch(int64_t max_ctx, int64_t K, int64_t d)
      : S((size_t)(max_ctx + 1) * (size_t)(K + 1)), G((size_t)(max_ctx + 1) * (size_t)(K + 1)), E((size_t)(max_ctx + 1) * (size_t)d), h(d), T(K + 1),
        X(max_ctx + 1), rows(max_ctx + 1), row_id(max_ctx + 1), at(max_ctx + 1) {}
};

// The context words of position i (within its reduced window, in its paragraph) into ctx; their number.
inline int64_t gather_context(const Args& a, int64_t i, int32_t* ctx) {
  const int64_t b = a.reduced[i];
  int64_t nc = 0;
  for (int64_t j = std::max<int64_t>(0, i - b); j <= std::min<int64_t>(a.n - 1, i + b); ++j)
    if (j != i && a.para[j] == a.para[i]) ctx[nc++] = a.ids[j];
  return nc;
}

// Plan the window at position i: its context, its centre with K shared noise words (every mode
// draws them: the pair modes' streams follow them), and for the pair modes each pair's K noise
// words — noise_pool < 0: K fresh per pair (word2vec.c); m > 0: the window draws m·K and every
// pair picks K of them.
void plan_window(Rng& rng, const Args& a, int64_t i, Plan& p) {
  const int64_t K = a.negative, d = a.dim;
  p.i = i;
  p.nc = gather_context(a, i, p.ctx.data());
  if (p.nc == 0) return;
  const int32_t w = a.ids[i];
  p.tgt[0] = w;
  p.active[0] = 1;
  for (int64_t k = 1; k <= K; ++k) {
    p.tgt[k] = draw_noise(rng, a);
    p.active[k] = p.tgt[k] != w;
  }
  if (a.noise_pool && !a.cbow) {
    const int64_t P = a.noise_pool > 0 ? K * a.noise_pool : K * p.nc;
    if ((int64_t)p.pool.size() < P) p.pool.resize(P);
    if ((int64_t)p.noise.size() < K * p.nc) p.noise.resize(K * p.nc);
    for (int64_t q = 0; q < P; ++q) p.pool[q] = draw_noise(rng, a);
    for (int64_t q = 0; q < K * p.nc; ++q)
      p.noise[q] = a.noise_pool > 0 ? p.pool[(((rng.next() >> 32) * (uint64_t)P) >> 32)] : p.pool[q];
    for (int64_t q = 0; q < P; ++q) __builtin_prefetch(a.wout + (int64_t)p.pool[q] * d);
  }
}

// One pair, x against its M distinct target rows, in two passes over the rows instead of three
// per target (dot, update, and the context's share). Pass one: every row's dot with x, and x·x
// (with XX: only a pair whose noise word repeats needs it).
template <int M, bool XX = true>
inline void pair_dots(const float* __restrict x, float* const* t, int64_t d, float* dots, float& xx) {
  v8 acc[M] = {}, sq = {};
  const int64_t d8 = d - d % 8;
  for (int64_t i = 0; i < d8; i += 8) {
    const v8 xv = load8(x + i);
    if constexpr (XX) sq += xv * xv;
    for (int j = 0; j < M; ++j) acc[j] += xv * load8(t[j] + i);
  }
  for (int j = 0; j < M; ++j) {
    float r = 0.f;
    for (int q = 0; q < 8; ++q) r += acc[j][q];
    for (int64_t i = d8; i < d; ++i) r += x[i] * t[j][i];
    dots[j] = r;
  }
  xx = 0.f;
  if constexpr (!XX) return;
  for (int q = 0; q < 8; ++q) xx += sq[q];
  for (int64_t i = d8; i < d; ++i) xx += x[i] * x[i];
}

// Pass two: e = b·x + Σ_j a_j·t_j (old rows), t_j += a_j·x, then x += e (skip-gram) or, with
// `e_out`, e written there (CBOW, whose x is the context mean and whose e goes to every context).
template <int M>
inline void pair_updates(float* x, float* const* t, int64_t d, const float* a, float b, float* e_out) {
  const int64_t d8 = d - d % 8;
  for (int64_t i = 0; i < d8; i += 8) {
    const v8 xv = load8(x + i);
    v8 e = b * xv;
    for (int j = 0; j < M; ++j) {
      const v8 tv = load8(t[j] + i);
      e += a[j] * tv;
      store8(t[j] + i, tv + a[j] * xv);
    }
    if (e_out) store8(e_out + i, e);
    else store8(x + i, xv + e);
  }
  for (int64_t i = d8; i < d; ++i) {
    const float xi = x[i];
    float e = b * xi;
    for (int j = 0; j < M; ++j) {
      e += a[j] * t[j][i];
      t[j][i] += a[j] * xi;
    }
    if (e_out) e_out[i] = e;
    else x[i] = xi + e;
  }
}

constexpr int FUSED_ROWS = 8;  // pairs with at most this many distinct target rows take the two passes

// word2vec.c trains a pair's targets one after another: each target's score sees the updates of
// the targets before it, which only matters for a row that occurs again (a noise word drawn
// twice). With s the first score of row j and A_j the steps (g) row j took before, a later
// occurrence scores s + A_j·|x|²; row j ends at t_j + (Σ g)·x, and x receives Σ g·(t_j + A_j·x).
// So the two passes give word2vec.c's update exactly (in exact arithmetic).
template <int M>
void fused_pair(const Args& a, float* x, float* const* rows, const int* occ, int64_t n_tgt, float lr, bool track,
                Losses& L, float* e_out = nullptr) {
  float dots[M], step[M] = {}, xx;
  pair_dots<M>(x, rows, a.dim, dots, xx);
  float b = 0.f;
  for (int64_t k = 0; k < n_tgt; ++k) {
    const int j = occ[k];
    if (j < 0) continue;  // a noise word equal to the centre
    const float sc = dots[j] + step[j] * xx;
    const float g = ((k == 0 ? 1.f : 0.f) - sigmoid(sc)) * lr;
    b += g * step[j];
    step[j] += g;
    if (track) L.add(sc, k == 0);
  }
  pair_updates<M>(x, rows, a.dim, step, b, e_out);
}

// The pair's distinct target rows (centre first) and, for each target, its row's index (-1: a
// noise word equal to the centre, skipped). Returns the number of distinct rows.
inline int distinct_rows(const Args& a, const int32_t* tgt, int64_t n_tgt, float** rows, int* occ, int32_t* ids) {
  int m = 0;
  for (int64_t k = 0; k < n_tgt; ++k) {
    if (k > 0 && tgt[k] == tgt[0]) { occ[k] = -1; continue; }
    int j = 0;
    while (j < m && ids[j] != tgt[k]) ++j;
    if (j == m) { ids[m] = tgt[k]; rows[m] = a.wout + (int64_t)tgt[k] * a.dim; ++m; }
    occ[k] = j;
  }
  return m;
}

// x against the targets tgt[0..n) (the centre first), as word2vec.c trains them one after another,
// in the two passes of fused_pair: x += e, or with `e_out`, e written there. n ≤ FUSED_ROWS.
inline void train_targets(const Args& a, float* x, const int32_t* tgt, int64_t n, float lr, bool track, Losses& L,
                          float* e_out = nullptr) {
  int32_t ids[FUSED_ROWS];
  float* rows[FUSED_ROWS];
  int occ[FUSED_ROWS];
  switch (distinct_rows(a, tgt, n, rows, occ, ids)) {
    case 1: fused_pair<1>(a, x, rows, occ, n, lr, track, L, e_out); break;
    case 2: fused_pair<2>(a, x, rows, occ, n, lr, track, L, e_out); break;
    case 3: fused_pair<3>(a, x, rows, occ, n, lr, track, L, e_out); break;
    case 4: fused_pair<4>(a, x, rows, occ, n, lr, track, L, e_out); break;
    case 5: fused_pair<5>(a, x, rows, occ, n, lr, track, L, e_out); break;
    case 6: fused_pair<6>(a, x, rows, occ, n, lr, track, L, e_out); break;
    case 7: fused_pair<7>(a, x, rows, occ, n, lr, track, L, e_out); break;
    default: fused_pair<8>(a, x, rows, occ, n, lr, track, L, e_out); break;
  }
}

// Skip-gram pair by pair, as word2vec.c, each pair with its planned noise words.
void skipgram_pairs(const Args& a, const Plan& p, Scratch& s, float lr, bool track, Losses& L) {
  const int64_t d = a.dim;
  const int64_t K = a.negative;
  const int32_t w = p.tgt[0];
  L.pairs += p.nc;
  int32_t tgt[FUSED_ROWS];
  for (int64_t c = 0; c < p.nc; ++c) {
    float* x = a.win + (int64_t)p.ctx[c] * d;
    if (K + 1 <= FUSED_ROWS) {
      tgt[0] = w;
      for (int64_t k = 1; k <= K; ++k) tgt[k] = p.noise[c * K + k - 1];
      train_targets(a, x, tgt, K + 1, lr, track, L);
      if (track) L.tracked += 1;
      continue;
    }
    float* e = s.E.data();  // more noise words than the two passes hold: target by target
    std::fill(e, e + d, 0.f);
    for (int64_t k = 0; k <= K; ++k) {
      const int32_t o = k == 0 ? w : p.noise[c * K + k - 1];
      if (k > 0 && o == w) continue;
      float* t = a.wout + (int64_t)o * d;
      const float sc = dot(x, t, d);
      const float g = ((k == 0 ? 1.f : 0.f) - sigmoid(sc)) * lr;
      pair_update(g, x, t, e, d);  // e = Σ_k g_k · t_k (old t_k); t_k += g_k · x
      if (track) L.add(sc, k == 0);
    }
    if (track) L.tracked += 1;
    axpy(1.f, e, x, d);
  }
}

// Pass two of a window with M distinct target rows: T_k += Σ_c G[c][k]·X_c and X_c += Σ_k
// G[c][k]·T_k, both from the old rows, in one pass over d (each row loaded and stored once).
template <int M>
void window_updates(float* const* X, int64_t nx, float* const* T, const float* G, int64_t d) {
  const int64_t d8 = d - d % 8;
  for (int64_t i = 0; i < d8; i += 8) {
    v8 tv[M], acc[M] = {};
    for (int j = 0; j < M; ++j) tv[j] = load8(T[j] + i);
    for (int64_t c = 0; c < nx; ++c) {
      const float* g = G + c * M;
      const v8 xv = load8(X[c] + i);
      v8 e = {};
      for (int j = 0; j < M; ++j) {
        e += g[j] * tv[j];
        acc[j] += g[j] * xv;
      }
      store8(X[c] + i, xv + e);
    }
    for (int j = 0; j < M; ++j) store8(T[j] + i, tv[j] + acc[j]);
  }
  for (int64_t i = d8; i < d; ++i) {
    float tv[M], acc[M] = {};
    for (int j = 0; j < M; ++j) tv[j] = T[j][i];
    for (int64_t c = 0; c < nx; ++c) {
      const float xi = X[c][i];
      float e = 0.f;
      for (int j = 0; j < M; ++j) {
        e += G[c * M + j] * tv[j];
        acc[j] += G[c * M + j] * xi;
      }
      X[c][i] = xi + e;
    }
    for (int j = 0; j < M; ++j) T[j][i] = tv[j] + acc[j];
  }
}

// Skip-gram with the window's pairs sharing its noise words: one SGD step on the window's loss.
// A row that occurs twice (a context word or a noise word repeated in the window) is one row
// whose G entries add up, which is what the step gives it; then every distinct context row's dots
// with the M distinct target rows in one pass each, and both updates in one more pass.
template <int M>
void window_step(const Args& a, const Plan& p, Scratch& s, float* const* T, const int* occ, float lr,
                 bool track, Losses& L) {
  const int64_t d = a.dim, K = a.negative;
  int64_t nx = 0;
  for (int64_t c = 0; c < p.nc; ++c) {
    int64_t u = 0;
    while (u < nx && s.row_id[u] != p.ctx[c]) ++u;
    if (u == nx) { s.row_id[nx] = p.ctx[c]; s.rows[nx] = a.win + (int64_t)p.ctx[c] * d; ++nx; }
    s.at[c] = (int)u;
  }
  float* dots = s.S.data();  // nx × M scores, then G (nx × M)
  float xx;  // unused: one step from the old rows needs no sequential correction
  for (int64_t u = 0; u < nx; ++u) pair_dots<M, false>(s.rows[u], T, d, dots + u * M, xx);
  float* G = s.G.data();
  std::fill(G, G + nx * M, 0.f);
  for (int64_t c = 0; c < p.nc; ++c) {
    for (int64_t k = 0; k <= K; ++k) {
      if (occ[k] < 0) continue;  // a noise word equal to the centre
      const float sc = dots[s.at[c] * M + occ[k]];
      G[s.at[c] * M + occ[k]] += ((k == 0 ? 1.f : 0.f) - sigmoid(sc)) * lr;
      if (track) L.add(sc, k == 0);
    }
    if (track) L.tracked += 1;
  }
  window_updates<M>(s.rows.data(), nx, T, G, d);
}

void skipgram_window(const Args& a, const Plan& p, Scratch& s, float lr, bool track, Losses& L) {
  const int64_t d = a.dim, nc = p.nc;
  const int64_t K = a.negative;
  L.pairs += nc;
  if (K + 1 <= FUSED_ROWS) {
    int32_t ids[FUSED_ROWS];
    float* T[FUSED_ROWS];
    int occ[FUSED_ROWS];
    switch (distinct_rows(a, p.tgt.data(), K + 1, T, occ, ids)) {
      case 1: window_step<1>(a, p, s, T, occ, lr, track, L); break;
      case 2: window_step<2>(a, p, s, T, occ, lr, track, L); break;
      case 3: window_step<3>(a, p, s, T, occ, lr, track, L); break;
      case 4: window_step<4>(a, p, s, T, occ, lr, track, L); break;
      case 5: window_step<5>(a, p, s, T, occ, lr, track, L); break;
      case 6: window_step<6>(a, p, s, T, occ, lr, track, L); break;
      case 7: window_step<7>(a, p, s, T, occ, lr, track, L); break;
      default: window_step<8>(a, p, s, T, occ, lr, track, L); break;
    }
    return;
  }
  // more noise words than one pass holds: three passes, row by row
  for (int64_t k = 0; k <= K; ++k) s.T[k] = a.wout + (int64_t)p.tgt[k] * d;
  for (int64_t c = 0; c < nc; ++c) s.X[c] = a.win + (int64_t)p.ctx[c] * d;
  for (int64_t c = 0; c < nc; ++c) {  // G = (label − σ(X·Tᵀ)) · lr
    for (int64_t k = 0; k <= K; ++k) {
      float& g = s.G[(size_t)c * (K + 1) + k];
      if (!p.active[k]) { g = 0.f; continue; }
      const float sc = dot(s.X[c], s.T[k], d);
      g = ((k == 0 ? 1.f : 0.f) - sigmoid(sc)) * lr;
      if (track) L.add(sc, k == 0);
    }
    if (track) L.tracked += 1;
  }
  const int64_t d8 = d - d % 8;
  for (int64_t c = 0; c < nc; ++c) {  // E = G · T   (old T)
    const float* gc = &s.G[(size_t)c * (K + 1)];
    float* e = &s.E[(size_t)c * d];
    for (int64_t i = 0; i < d8; i += 8) {
      v8 acc = {};
      for (int64_t k = 0; k <= K; ++k) acc += gc[k] * load8(s.T[k] + i);
      store8(e + i, acc);
    }
    for (int64_t i = d8; i < d; ++i) {
      float acc = 0.f;
      for (int64_t k = 0; k <= K; ++k) acc += gc[k] * s.T[k][i];
      e[i] = acc;
    }
  }
  for (int64_t k = 0; k <= K; ++k) {  // T += Gᵀ · X   (old X)
    if (!p.active[k]) continue;
    float* t = a.wout + (int64_t)p.tgt[k] * d;
    for (int64_t i = 0; i < d8; i += 8) {
      v8 acc = load8(t + i);
      for (int64_t c = 0; c < nc; ++c) acc += s.G[(size_t)c * (K + 1) + k] * load8(s.X[c] + i);
      store8(t + i, acc);
    }
    for (int64_t i = d8; i < d; ++i)
      for (int64_t c = 0; c < nc; ++c) t[i] += s.G[(size_t)c * (K + 1) + k] * s.X[c][i];
  }
  for (int64_t c = 0; c < nc; ++c) axpy(1.f, &s.E[(size_t)c * d], a.win + (int64_t)p.ctx[c] * d, d);
}

// CBOW: the mean h of the context rows predicts the centre; each context row receives the whole
// error, as in word2vec.c.
void cbow_window(const Args& a, const Plan& p, Scratch& s, float lr, bool track, Losses& L) {
  const int64_t d = a.dim, nc = p.nc;
  const int64_t K = a.negative;
  L.pairs += 1;
  std::fill(s.h.begin(), s.h.end(), 0.f);
  for (int64_t c = 0; c < nc; ++c) axpy(1.f, a.win + (int64_t)p.ctx[c] * d, s.h.data(), d);
  const float inv = 1.f / nc;
  for (int64_t q = 0; q < d; ++q) s.h[q] *= inv;
  float* e = s.E.data();
  if (K + 1 <= FUSED_ROWS) {
    train_targets(a, s.h.data(), p.tgt.data(), K + 1, lr, track, L, e);
  } else {  // more noise words than the two passes hold: target by target
    std::fill(e, e + d, 0.f);
    for (int64_t k = 0; k <= K; ++k) {
      if (!p.active[k]) continue;
      float* t = a.wout + (int64_t)p.tgt[k] * d;
      const float sc = dot(s.h.data(), t, d);
      const float g = ((k == 0 ? 1.f : 0.f) - sigmoid(sc)) * lr;
      axpy(g, t, e, d);
      axpy(g, s.h.data(), t, d);
      if (track) L.add(sc, k == 0);
    }
  }
  if (track) L.tracked += 1;
  for (int64_t c = 0; c < nc; ++c) axpy(1.f, e, a.win + (int64_t)p.ctx[c] * d, d);
}

// Each thread owns a stretch of the chunk (its share, far from the others', as word2vec.c splits
// a file) and takes its centre words a block at a time from that stretch's counter; a thread done
// with its own takes the blocks left in the others', so one that the machine slows down never
// keeps the rest waiting at the end of the chunk. Each block draws its noise words from its own
// stream (seeded by the chunk's seed and the block's place): a seed draws the same noise words on
// any number of threads.
constexpr int64_t BLOCK = 512;

// A stream's start, hashed from the seed and the block: splitmix64 states that differ by a
// multiple of its step would be one stream shifted (block b + 1 repeating block b one draw later).
inline uint64_t block_seed(uint64_t seed, int64_t block) {
  Rng r{seed * 0x2545F4914F6CDD1DULL + (uint64_t)block * 0xD1B54A32D192ED03ULL};
  return r.next();
}

// A thread's state: scratch space, the two plans and the loss sums.
struct Worker {
  Scratch s;
  Plan plans[2];
  Losses L;
  Worker(int64_t max_ctx, int64_t K, int64_t d) : s(max_ctx, K, d), plans{Plan(max_ctx, K), Plan(max_ctx, K)} {}
};

// The centre words lo..hi-1 in order, each window one step at its point on the learning-rate ramp,
// the next window planned (its noise drawn, its rows prefetched) while this one trains.
void train_block(const Args& a, int64_t lo, int64_t hi, Rng& rng, Worker& w) {
  const double span = a.n > 1 ? (double)(a.n - 1) : 1.0;
  auto plan_next = [&](int64_t from, Plan& p) {
    for (p.i = -1; from < hi; ++from) {
      plan_window(rng, a, from, p);
      if (p.nc > 0) return;
    }
    p.i = -1;
  };
  int cur = 0;
  plan_next(lo, w.plans[cur]);
  while (w.plans[cur].i >= 0) {
    const Plan& p = w.plans[cur];
    plan_next(p.i + 1, w.plans[1 - cur]);
    const float lr = a.lr_start + (a.lr_end - a.lr_start) * (float)(p.i / span);
    const bool track = a.loss_every > 0 && (p.i % a.loss_every) == 0;
    if (a.cbow) cbow_window(a, p, w.s, lr, track, w.L);
    else if (a.noise_pool) skipgram_pairs(a, p, w.s, lr, track, w.L);
    else skipgram_window(a, p, w.s, lr, track, w.L);
    cur = 1 - cur;
  }
}

// A thread's stretch of blocks: the next to take, and where the stretch ends.
struct Stretch {
  std::atomic<int64_t> next{0};
  int64_t end = 0;
};

// One thread: the blocks of its own stretch, then those left in the others'. stats (out):
// positive loss, negative loss, tracked pairs, pairs trained.
void train_blocks(const Args& a, int64_t max_ctx, Stretch* stretches, int32_t n_threads, int32_t t, uint64_t seed,
                  double* stats) {
  Worker w(max_ctx, a.negative, a.dim);
  for (int32_t k = 0; k < n_threads; ++k) {
    Stretch& st = stretches[(t + k) % n_threads];
    for (int64_t b; (b = st.next.fetch_add(1)) < st.end;) {
      Rng rng{block_seed(seed, b)};
      train_block(a, b * BLOCK, std::min(a.n, (b + 1) * BLOCK), rng, w);
    }
  }
  stats[0] = w.L.pos;
  stats[1] = w.L.neg;
  stats[2] = w.L.tracked;
  stats[3] = w.L.pairs;
}

constexpr int32_t OK = 0, BAD_SIZES = 1, BAD_WORD_ID = 2, NO_MEMORY = 3;

// A thread; no exception leaves it (an allocation that fails is reported, not fatal).
void worker(const Args& a, int64_t max_ctx, Stretch* stretches, int32_t n_threads, int32_t t, uint64_t seed,
            double* stats, int32_t* error) {
  try {
    train_blocks(a, max_ctx, stretches, n_threads, t, seed, stats);
  } catch (...) {
    *error = NO_MEMORY;
  }
}

// The chunk on n_threads threads (the last on the calling one); every started thread is joined,
// even when starting another fails.
int32_t train_threads(const Args& a, int32_t n_threads, uint64_t seed, double* stats) {
  std::vector<double> part((size_t)n_threads * 4, 0.0);
  std::vector<int32_t> errors((size_t)n_threads, OK);
  std::vector<std::thread> pool;
  const int64_t blocks = (a.n + BLOCK - 1) / BLOCK;
  std::vector<Stretch> stretches((size_t)n_threads);
  for (int32_t t = 0; t < n_threads; ++t) {
    stretches[t].next = blocks * t / n_threads;
    stretches[t].end = blocks * (t + 1) / n_threads;
  }
  int64_t max_ctx = 0;  // the widest window's context, never more than the chunk holds
  for (int64_t i = 0; i < a.n; ++i) max_ctx = std::max<int64_t>(max_ctx, 2 * (int64_t)a.reduced[i]);
  max_ctx = std::min<int64_t>(max_ctx, std::max<int64_t>(0, a.n - 1));
  int32_t error = OK;
  try {
    for (int32_t t = 0; t < n_threads; ++t) {
      double* st = &part[(size_t)t * 4];
      if (t + 1 == n_threads) worker(a, max_ctx, stretches.data(), n_threads, t, seed, st, &errors[t]);
      else pool.emplace_back(worker, std::cref(a), max_ctx, stretches.data(), n_threads, t, seed, st, &errors[t]);
    }
  } catch (...) {  // no thread could be started
    error = NO_MEMORY;
  }
  for (auto& th : pool) th.join();
  for (int q = 0; q < 4; ++q) {
    stats[q] = 0;
    for (int32_t t = 0; t < n_threads; ++t) stats[q] += part[(size_t)t * 4 + q];
  }
  for (int32_t e : errors) error = error ? error : e;
  return error;
}

}  // namespace

extern "C" {

int w2v_kernel_version() { return 4; }

// stats (out, 4 doubles): summed positive and negative loss over the tracked pairs (every
// loss_every-th centre word), number of tracked pairs, number of pairs trained.
// Returns 0 when the chunk was trained, else why not: 1 = sizes out of range, 2 = a word id outside
// 0..n_vocab-1 (nothing trained: no table is written out of bounds), 3 = out of memory.
int32_t w2v_train_chunk(float* win, float* wout, int64_t n_vocab, int64_t dim, const int32_t* ids,
                        const int32_t* para, const int32_t* reduced, int64_t n,
                        const float* alias_prob, const int32_t* alias_idx, int32_t negative,
                        int32_t cbow, float lr_start, float lr_end, int32_t n_threads, uint64_t seed,
                        int32_t loss_every, int32_t noise_pool, double* stats) {
  for (int q = 0; q < 4; ++q) stats[q] = 0;
  if (n_vocab < 1 || dim < 1 || n < 0 || negative < 0 || negative > 100000 || noise_pool > 65536)
    return BAD_SIZES;
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= n_vocab) return BAD_WORD_ID;
  Args a{win, wout, n_vocab, dim, ids, para, reduced, n, alias_prob, alias_idx,
         negative, cbow, noise_pool, lr_start, lr_end, loss_every};
  n_threads = (int32_t)std::max<int64_t>(1, std::min<int64_t>(n_threads, std::max<int64_t>(1, n / 1000)));
  try {
    return train_threads(a, n_threads, seed, stats);
  } catch (...) {  // the per-thread bookkeeping itself could not be allocated
    return NO_MEMORY;
  }
}

// Reading a corpus: plain blocks (only letters and spaces, the text8 kind) become word ids here,
// where the Python tokenizer would split them on spaces, lower-case them and look up each token in
// a dictionary (most of the time reading takes). A word gets the next id when first seen; Python
// asks for the new words after each block, so its own index stays whole and takes over for any
// block that is not plain (w2v/corpus.py).
struct WordIds {
  std::unordered_map<std::string, int32_t> ids;
  std::vector<std::string> words;  // by id
};

void* w2v_words_new() {
  try {
    return new WordIds();
  } catch (...) {
    return nullptr;
  }
}

void w2v_words_free(void* w) { delete static_cast<WordIds*>(w); }

// The ids of the words of text[0..len) (bytes A-Z, a-z and spaces; upper case read as lower case)
// into out (room for cap ids: (len + 1) / 2 always suffices). Returns the number of words; -1: a
// byte other than those (nothing added), -2: out too small, -3: out of memory.
int64_t w2v_words_encode(void* handle, const char* text, int64_t len, int32_t* out, int64_t cap) {
  WordIds& w = *static_cast<WordIds*>(handle);
  for (int64_t i = 0; i < len; ++i) {
    const char c = text[i];
    if (!(c == ' ' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return -1;
  }
  try {
    std::string word;
    int64_t n = 0;
    for (int64_t i = 0; i < len;) {
      while (i < len && text[i] == ' ') ++i;
      if (i == len) break;
      int64_t j = i;
      while (j < len && text[j] != ' ') ++j;
      word.assign(text + i, (size_t)(j - i));
      for (char& c : word) c = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
      if (n == cap) return -2;
      auto it = w.ids.find(word);
      if (it == w.ids.end()) {
        if (w.words.size() >= (size_t)INT32_MAX) return -3;
        it = w.ids.emplace(word, (int32_t)w.words.size()).first;
        w.words.push_back(word);
      }
      out[n++] = it->second;
      i = j;
    }
    return n;
  } catch (...) {
    return -3;
  }
}

// The words with ids from..end, each followed by a newline, into buf (room for cap bytes). Returns
// the bytes they take (nothing written when that is more than cap).
int64_t w2v_words_list(void* handle, int64_t from, char* buf, int64_t cap) {
  const WordIds& w = *static_cast<WordIds*>(handle);
  int64_t need = 0;
  for (size_t k = (size_t)std::max<int64_t>(0, from); k < w.words.size(); ++k) need += (int64_t)w.words[k].size() + 1;
  if (need > cap) return need;
  for (size_t k = (size_t)std::max<int64_t>(0, from); k < w.words.size(); ++k) {
    std::memcpy(buf, w.words[k].data(), w.words[k].size());
    buf += w.words[k].size();
    *buf++ = '\n';
  }
  return need;
}

}  // extern "C"
