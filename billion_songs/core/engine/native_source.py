"""The C++ of the native engine (compiled on first use by `kernels.py`): the exact int8
matrix product and the Llama decode step. Kept as a string so it ships inside the package.

The float work follows `fixed_order.py` operation for operation (see that module for why):
elementwise IEEE operations only, in the same order, compiled without FMA contraction or
fast-math, so each result is rounded exactly as PyTorch rounds it. The key/value cache is
float16 (attention.py): F16C's vcvtps2ph rounds to nearest even as torch's .to(float16)
does, and vcvtph2ps widens exactly as .float() does.
"""

SOURCE = r"""
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/csrc/utils/pybind.h>
#include <pybind11/stl.h>
#include <immintrin.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <cmath>
#include <cstring>
#include <vector>

namespace {

// ------------------------------------------------------------------ the engine's threads
// The step splits its work over threads of its own, not OpenMP's. libgomp keeps a team of
// workers per calling thread, and a web process calls the engine from several threads
// (visitors' flights, the pool filler); once libgomp manages more threads than there are
// CPUs its workers stop spinning between parallel regions, so each of a step's ~150
// regions pays a sleep and a wake-up: a song written on any thread but the first one took
// 1.6x as long. One pool per process serves every calling thread, one region at a time:
// its workers spin briefly between regions (a step's regions are microseconds apart) and
// sleep between steps. How work is split never changes a bit: regions split rows or
// output channels, never a sum.
class Pool {
 public:
  // The engine's thread count (set_threads), or 0: torch's intra-op count.
  static std::atomic<int>& chosen_threads() {
    static std::atomic<int> n{0};
    return n;
  }

  // Runs f(lo, hi) over [begin, end) in chunks of at least `grain` on up to the engine's
  // thread count, the caller's thread included; returns when all are done.
  template <class F>
  static void run(int64_t begin, int64_t end, int64_t grain, const F& f) {
    const int64_t range = end - begin;
    if (range <= 0) return;
    const int chosen = chosen_threads().load(std::memory_order_relaxed);
    const int threads = chosen > 0 ? chosen : std::max(1, at::get_num_threads());
    const int64_t most = (range + std::max<int64_t>(1, grain) - 1) / std::max<int64_t>(1, grain);
    // A few chunks per thread: a thread that is late (asleep, or off a busy CPU) leaves
    // its share to the others instead of holding the region up.
    const int64_t parts = std::min<int64_t>({most, int64_t(threads) * kChunksPerThread, kMaxParts});
    if (parts <= 1 || threads == 1) {
      f(begin, end);
      return;
    }
    std::lock_guard<std::mutex> region(region_mutex());  // concurrent callers take turns
    instance(threads).dispatch(begin, end, parts,
                               [](const void* ctx, int64_t lo, int64_t hi) { (*static_cast<const F*>(ctx))(lo, hi); }, &f);
  }

 private:
  using Call = void (*)(const void*, int64_t, int64_t);
  static constexpr int64_t kChunksPerThread = 1;
  static constexpr int64_t kMaxParts = 0xFFFF;
  static constexpr auto kSpin = std::chrono::microseconds(200);  // a worker's wait before it sleeps

  explicit Pool(int threads) : threads_(threads), pid_(getpid()) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  static std::mutex& region_mutex() {
    static std::mutex m;
    return m;
  }

  // The process's pool for this thread count (called with region_mutex held). A forked
  // child inherits the pool's memory but not its threads: it starts a pool of its own.
  static Pool& instance(int threads) {
    static Pool* pool = nullptr;
    if (pool == nullptr || pool->threads_ != threads || pool->pid_ != getpid()) {
      if (pool != nullptr && pool->pid_ == getpid()) delete pool;  // else the parent's: left as it is
      pool = new Pool(threads);
    }
    return *pool;
  }

  // work_ packs (region << 32) | (parts << 16) | next part: a thread claims a part with
  // one compare-and-swap, which also proves the part belongs to the current region.
  bool claim(int64_t* part) {
    uint64_t v = work_.load(std::memory_order_acquire);
    while ((v & 0xFFFF) < ((v >> 16) & 0xFFFF)) {
      if (work_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        *part = int64_t(v & 0xFFFF);
        return true;
      }
    }
    return false;
  }

  bool claimable() const {
    const uint64_t v = work_.load();
    return (v & 0xFFFF) < ((v >> 16) & 0xFFFF);
  }

  void dispatch(int64_t begin, int64_t end, int64_t parts, Call call, const void* ctx) {
    begin_ = begin;
    end_ = end;
    parts_ = parts;
    call_ = call;
    ctx_ = ctx;
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    ++region_;
    work_.store((region_ << 32) | (uint64_t(parts) << 16));  // seq_cst, as is the read of sleepers_
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      wake_.notify_all();
    }
    for (int64_t part; claim(&part);) run_part(part);
    // Parts other threads claimed: spin, yielding now and then (one may be off the CPU).
    for (int spins = 1; done_.load(std::memory_order_acquire) < parts; ++spins) {
      _mm_pause();
      if (spins % 64 == 0) std::this_thread::yield();
    }
    if (error_) std::rethrow_exception(error_);
  }

  void run_part(int64_t part) {
    const int64_t chunk = (end_ - begin_ + parts_ - 1) / parts_;
    const int64_t lo = begin_ + part * chunk, hi = std::min(end_, lo + chunk);
    if (lo < hi) {
      try {
        call_(ctx_, lo, hi);
      } catch (...) {
        std::lock_guard<std::mutex> lock(sleep_mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    done_.fetch_add(1, std::memory_order_acq_rel);
  }

  void work() {
    for (;;) {
      const auto started = std::chrono::steady_clock::now();
      int64_t part;
      for (int spins = 1; !claim(&part); ++spins) {
        _mm_pause();
        if (spins % 64 != 0) continue;
        std::this_thread::yield();
        if (std::chrono::steady_clock::now() - started > kSpin) {
          std::unique_lock<std::mutex> lock(sleep_mutex_);
          sleepers_.fetch_add(1);
          wake_.wait(lock, [&] { return stop_ || claimable(); });
          sleepers_.fetch_sub(1);
          if (stop_) return;
        }
      }
      run_part(part);
    }
  }

  const int threads_;
  const pid_t pid_;
  std::vector<std::thread> workers_;
  // The current region, written by the caller before work_ publishes it.
  int64_t begin_ = 0, end_ = 0, parts_ = 0;
  Call call_ = nullptr;
  const void* ctx_ = nullptr;
  std::exception_ptr error_;
  uint64_t region_ = 0;
  std::atomic<uint64_t> work_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<int> sleepers_{0};
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
};

template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  Pool::run(begin, end, grain, f);
}

// ------------------------------------------------------------------ exact int8 products
// Weights: int8 [N_pad / 16, K_pad / 4, 16, 4] (blocks of 16 output channels; for every 4
// consecutive k, the 16 channels' 4 weights), N_pad a multiple of 64 and K_pad of 4, zero
// padded. row_sums: int32 [N_pad]. Activations u8 = x_q + 64 in [1, 127] (0 in the padding).
// acc[m, n] = sum_k u8[m, k] * W[n, k] - 64 * row_sums[n], exactly: with 7-bit activations
// no pair of products can saturate vpmaddubsw's int16, and int32 sums are associative, so
// neither blocking nor threads change a bit.
constexpr int64_t kBlock = 16;  // output channels per block
constexpr int64_t kGroup = 4;   // blocks per thread task (64 channels)
constexpr int64_t kRowGrain = 8;  // rows per thread task in row-wise loops (little work per row)

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
constexpr const char* kIsa = "avx512vnni";
constexpr int kMR = 8;  // rows per micro-kernel: 8 rows x 2 blocks = 16 accumulators
constexpr int kNG = 2;  // blocks per micro-kernel pass (a group of 4 takes two passes)

// MR rows x kNG blocks, the blocks starting at w (block stride kq * 64 bytes).
template <int MR>
inline void micro_pass(const uint8_t* x, int64_t ldx, const int8_t* w, int64_t kq, int32_t* out, int64_t ldo,
                       const int32_t* sums) {
  __m512i acc[MR][kNG];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 2
    for (int g = 0; g < kNG; ++g) acc[r][g] = _mm512_setzero_si512();
  for (int64_t k = 0; k < kq; ++k) {
    __m512i wv[kNG];
#pragma GCC unroll 2
    for (int g = 0; g < kNG; ++g) wv[g] = _mm512_loadu_si512((const void*)(w + (g * kq + k) * 64));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t xi;
      std::memcpy(&xi, x + r * ldx + 4 * k, 4);
      const __m512i xb = _mm512_set1_epi32(xi);
#pragma GCC unroll 2
      for (int g = 0; g < kNG; ++g) acc[r][g] = _mm512_dpbusd_epi32(acc[r][g], xb, wv[g]);
    }
  }
#pragma GCC unroll 2
  for (int g = 0; g < kNG; ++g) {
    const __m512i zp = _mm512_slli_epi32(_mm512_loadu_si512((const void*)(sums + g * kBlock)), 6);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) _mm512_storeu_si512((void*)(out + r * ldo + g * kBlock), _mm512_sub_epi32(acc[r][g], zp));
  }
}

template <int MR>
inline void micro(const uint8_t* x, int64_t ldx, const int8_t* w, int64_t kq, int32_t* out, int64_t ldo,
                  const int32_t* sums) {
  for (int g = 0; g < kGroup; g += kNG)
    micro_pass<MR>(x, ldx, w + g * kq * 64, kq, out + g * kBlock, ldo, sums + g * kBlock);
}
#else
constexpr const char* kIsa = "avx2";
constexpr int kMR = 4;

inline __m256i dpbusd(__m256i acc, __m256i x, __m256i w) {  // vpdpbusd without VNNI: exact for 7-bit x
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), _mm256_set1_epi16(1)));
}

template <int MR>
inline void micro(const uint8_t* x, int64_t ldx, const int8_t* w, int64_t kq, int32_t* out, int64_t ldo,
                  const int32_t* sums) {
  for (int g = 0; g < kGroup; ++g) {  // one block (2 ymm halves) x MR rows at a time: 16 ymm
    const int8_t* wb = w + g * kq * 64;
    __m256i lo[MR], hi[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) lo[r] = hi[r] = _mm256_setzero_si256();
    for (int64_t k = 0; k < kq; ++k) {
      const __m256i w0 = _mm256_loadu_si256((const __m256i*)(wb + k * 64));
      const __m256i w1 = _mm256_loadu_si256((const __m256i*)(wb + k * 64 + 32));
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        int32_t xi;
        std::memcpy(&xi, x + r * ldx + 4 * k, 4);
        const __m256i xb = _mm256_set1_epi32(xi);
        lo[r] = dpbusd(lo[r], xb, w0);
        hi[r] = dpbusd(hi[r], xb, w1);
      }
    }
    const __m256i z0 = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i*)(sums + g * kBlock)), 6);
    const __m256i z1 = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i*)(sums + g * kBlock + 8)), 6);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      _mm256_storeu_si256((__m256i*)(out + r * ldo + g * kBlock), _mm256_sub_epi32(lo[r], z0));
      _mm256_storeu_si256((__m256i*)(out + r * ldo + g * kBlock + 8), _mm256_sub_epi32(hi[r], z1));
    }
  }
}
#endif

// acc: int32 [m, n_pad]. Threads split groups of 64 output channels, never a sum.
void gemm(const uint8_t* x, int64_t m, int64_t k_pad, const int8_t* w, const int32_t* sums, int64_t n_pad,
          int32_t* acc) {
  const int64_t kq = k_pad / 4, groups = n_pad / (kBlock * kGroup);
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, k_pad * kBlock * kGroup * std::max<int64_t>(1, m / 4)));
  parallel_for(0, groups, grain, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      const int8_t* wg = w + g * kGroup * kq * 64;
      const int32_t* sg = sums + g * kGroup * kBlock;
      int64_t r = 0;
      for (; r + kMR <= m; r += kMR) micro<kMR>(x + r * k_pad, k_pad, wg, kq, acc + r * n_pad + g * 64, n_pad, sg);
      const uint8_t* xr = x + r * k_pad;
      int32_t* ar = acc + r * n_pad + g * 64;
      switch (m - r) {
        case 1: micro<1>(xr, k_pad, wg, kq, ar, n_pad, sg); break;
        case 2: micro<2>(xr, k_pad, wg, kq, ar, n_pad, sg); break;
        case 3: micro<3>(xr, k_pad, wg, kq, ar, n_pad, sg); break;
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
        case 4: micro<4>(xr, k_pad, wg, kq, ar, n_pad, sg); break;
        case 5: micro<5>(xr, k_pad, wg, kq, ar, n_pad, sg); break;
        case 6: micro<6>(xr, k_pad, wg, kq, ar, n_pad, sg); break;
        case 7: micro<7>(xr, k_pad, wg, kq, ar, n_pad, sg); break;
#endif
        default: break;
      }
    }
  });
}

// ------------------------------------------------------- the fixed-order float algorithm
// Each function mirrors the one of the same name in fixed_order.py.

int64_t pow2_at_least(int64_t n) { int64_t p = 1; while (p < n) p *= 2; return p; }

// Zero-padded halving tree: buf[i] = buf[i] + buf[i + h] for h = P/2 ... 1. Destroys buf.
float halving_sum(float* buf, int64_t n, int64_t p) {
  for (int64_t i = n; i < p; ++i) buf[i] = 0.0f;
  for (int64_t h = p / 2; h >= 1; h /= 2)
    for (int64_t i = 0; i < h; ++i) buf[i] = buf[i] + buf[i + h];
  return buf[0];
}

// ------------------------------------------------------------------ the float16 cache
// Keys and values are stored as IEEE half (uint16 bits): rounded to nearest even when
// written, widened to float32 (exact) when read; torch's .to(float16) and .float().
constexpr int kHalfRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

inline void store_half(const float* x, uint16_t* out, int64_t n) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    _mm_storeu_si128((__m128i*)(out + j), _mm256_cvtps_ph(_mm256_loadu_ps(x + j), kHalfRound));
  for (; j < n; ++j) out[j] = _cvtss_sh(x[j], kHalfRound);
}

inline __m256 load8_half(const uint16_t* x) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)x)); }

inline void widen_half(const uint16_t* x, float* out, int64_t n) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(out + j, load8_half(x + j));
  for (; j < n; ++j) out[j] = _cvtsh_ss(x[j]);
}

// halving_sum of q[j] * k[j] over j < 64 (d = 64, the common head width), k a float16 key
// widened in registers: the same additions in the same order as halving_sum over a
// 64-float buffer.
inline float dot64_halving(const float* q, const uint16_t* k) {
#if defined(__AVX512F__)
  const auto kv = [k](int i) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(k + i))); };
  const __m512 p0 = _mm512_mul_ps(_mm512_loadu_ps(q), kv(0));
  const __m512 p1 = _mm512_mul_ps(_mm512_loadu_ps(q + 16), kv(16));
  const __m512 p2 = _mm512_mul_ps(_mm512_loadu_ps(q + 32), kv(32));
  const __m512 p3 = _mm512_mul_ps(_mm512_loadu_ps(q + 48), kv(48));
  const __m512 b = _mm512_add_ps(_mm512_add_ps(p0, p2), _mm512_add_ps(p1, p3));  // h = 32, then 16
  __m256 c = _mm256_add_ps(_mm512_castps512_ps256(b), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(b), 1)));  // h = 8
#else
  __m256 p[8];
  for (int i = 0; i < 8; ++i) p[i] = _mm256_mul_ps(_mm256_loadu_ps(q + 8 * i), load8_half(k + 8 * i));
  __m256 a[4];
  for (int i = 0; i < 4; ++i) a[i] = _mm256_add_ps(p[i], p[i + 4]);  // h = 32
  const __m256 b0 = _mm256_add_ps(a[0], a[2]), b1 = _mm256_add_ps(a[1], a[3]);  // h = 16
  __m256 c = _mm256_add_ps(b0, b1);  // h = 8
#endif
  __m128 e = _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));  // h = 4
  e = _mm_add_ps(e, _mm_movehl_ps(e, e));  // h = 2
  e = _mm_add_ss(e, _mm_shuffle_ps(e, e, 1));  // h = 1
  return _mm_cvtss_f32(e);
}

// exp on [-87, 88] (inputs clamped): Cody-Waite reduction and a degree-7 Taylor polynomial,
// every step one rounded IEEE operation.
inline float exp_fixed(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::nearbyint(x * (float)1.4426950408889634);
  float r = x - n * (float)0.693359375;
  r = r - n * (float)-2.12194440054690583e-4;
  float p = (float)(1.0 / 5040.0);
  p = p * r + (float)(1.0 / 720.0);
  p = p * r + (float)(1.0 / 120.0);
  p = p * r + (float)(1.0 / 24.0);
  p = p * r + (float)(1.0 / 6.0);
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

inline float rsqrt_fixed(float x) {  // the bit-trick guess and three Newton steps
  int32_t i;
  std::memcpy(&i, &x, 4);
  i = 0x5F3759DF - (i >> 1);
  float y;
  std::memcpy(&y, &i, 4);
  const float half = x * 0.5f;
  for (int s = 0; s < 3; ++s) y = y * (1.5f - (half * y) * y);
  return y;
}

// RMSNorm of one row: (x * rsqrt_fixed(halving_sum(x * x) / D + eps)) * weight.
void rms_norm(const float* x, const float* weight, int64_t dim, float eps, float* out, float* scratch) {
  for (int64_t i = 0; i < dim; ++i) scratch[i] = x[i] * x[i];
  const float ss = halving_sum(scratch, dim, pow2_at_least(dim));
  const float inv = rsqrt_fixed(ss / (float)dim + eps);
  for (int64_t i = 0; i < dim; ++i) out[i] = (x[i] * inv) * weight[i];
}

// 7-bit quantization of one row: scale = max(amax|x|, 1e-12) / 63, u8 = round(x / scale) + 64.
float quantize(const float* x, int64_t k, int64_t k_pad, uint8_t* u8) {
  float amax = 0.0f;
  for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = std::max(amax, 1e-12f) / 63.0f;
  for (int64_t i = 0; i < k; ++i) {
    const float q = std::min(std::max(std::nearbyint(x[i] / scale), -63.0f), 63.0f);
    u8[i] = (uint8_t)((int)q + 64);
  }
  for (int64_t i = k; i < k_pad; ++i) u8[i] = 0;
  return scale;
}

struct Linear {
  at::Tensor w, sums, scale, bias;
  int64_t k, n, k_pad, n_pad;
};

Linear make_linear(const std::vector<at::Tensor>& t, int64_t k) {
  TORCH_CHECK(t.size() == 4, "linear: (w, row_sums, scale, bias)");
  Linear l{t[0], t[1], t[2], t[3], k, t[2].numel(), t[0].size(1) / kBlock, t[0].size(0) * kBlock};
  TORCH_CHECK(l.w.scalar_type() == at::kChar && l.w.is_contiguous() && l.n_pad % 64 == 0 && l.k_pad % 4 == 0, "w: packed int8");
  TORCH_CHECK(l.k <= l.k_pad && l.n <= l.n_pad, "linear: shapes");
  return l;
}

// y[m, n] = ((float)acc * scale[n]) * x_scale[m] (+ bias[n]) for the m rows of x [m, ldx].
void linear(const Linear& l, const float* x, int64_t ldx, int64_t m, float* y, int64_t ldy,
            std::vector<uint8_t>& u8, std::vector<float>& xs, std::vector<int32_t>& acc) {
  u8.resize(m * l.k_pad);
  xs.resize(m);
  acc.resize(m * l.n_pad);
  parallel_for(0, m, kRowGrain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) xs[r] = quantize(x + r * ldx, l.k, l.k_pad, u8.data() + r * l.k_pad);
  });
  gemm(u8.data(), m, l.k_pad, l.w.data_ptr<int8_t>(), l.sums.data_ptr<int32_t>(), l.n_pad, acc.data());
  const float* scale = l.scale.data_ptr<float>();
  const float* bias = l.bias.numel() ? l.bias.data_ptr<float>() : nullptr;
  parallel_for(0, m, kRowGrain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int32_t* a = acc.data() + r * l.n_pad;
      float* out = y + r * ldy;
      const float s = xs[r];
      for (int64_t i = 0; i < l.n; ++i) out[i] = ((float)a[i] * scale[i]) * s;
      if (bias)
        for (int64_t i = 0; i < l.n; ++i) out[i] = out[i] + bias[i];
    }
  });
}

// Half-split rotary embedding of one head vector at one position.
void rotate(float* x, const float* cos, const float* sin, int64_t dim, float* tmp) {
  const int64_t half = dim / 2;
  for (int64_t j = 0; j < half; ++j) tmp[j] = x[j] * cos[j] + (-x[j + half]) * sin[j];
  for (int64_t j = half; j < dim; ++j) tmp[j] = x[j] * cos[j] + x[j - half] * sin[j];
  std::memcpy(x, tmp, dim * sizeof(float));
}

// out[j] = pair_sum_t(e[t] * v[t][j]) / pair_sum_t(e[t]), e[t] = exp_fixed(s[t] - m), over
// the n visible keys, as the PyTorch path's adjacent-pair trees over p_ref >= n keys whose
// tail is +0. Complete subtrees are merged as keys arrive (a binary counter: a stack of
// one pending left node per level); the node that holds the padding is then closed level
// by level: partial(l) = stack(l-1) + partial(l-1) where bit l-1 of n is set, else
// partial(l-1) + 0, starting from +0: exactly the tree's additions, zeros included.
// vals: the float16 cache's values, each row widened to float32 (exact) before use.
template <int64_t DC>  // DC: the head width known at compile time (64), or 0: d at run time
void pair_sum_weighted(const float* s, float m, const uint16_t* vals, int64_t n, int64_t d_run, int64_t p_ref,
                       float* out, std::vector<float>& stack, std::vector<float>& zstack, std::vector<float>& leaf,
                       std::vector<float>& partial, std::vector<float>& e, std::vector<float>& vrow) {
  const int64_t d = DC ? DC : d_run;
  e.resize(n);
  for (int64_t t = 0; t < n; ++t) e[t] = exp_fixed(s[t] - m);
  int levels = 0;
  while ((int64_t(1) << levels) < p_ref) ++levels;
  stack.resize((levels + 1) * d);
  zstack.resize(levels + 1);
  leaf.resize(d);
  partial.resize(d);
  vrow.resize(d);
  for (int64_t t = 0; t < n; ++t) {
    float z = e[t];
    widen_half(vals + t * d, vrow.data(), d);
    const float* v = vrow.data();
    for (int64_t j = 0; j < d; ++j) leaf[j] = z * v[j];
    int l = 0;
    for (; (t >> l) & 1; ++l) {
      const float* left = &stack[l * d];
      for (int64_t j = 0; j < d; ++j) leaf[j] = left[j] + leaf[j];
      z = zstack[l] + z;
    }
    std::memcpy(&stack[l * d], leaf.data(), d * sizeof(float));
    zstack[l] = z;
  }
  float zsum;
  if (n == p_ref) {
    std::memcpy(partial.data(), &stack[levels * d], d * sizeof(float));
    zsum = zstack[levels];
  } else {
    std::fill(partial.begin(), partial.end(), 0.0f);
    zsum = 0.0f;
    for (int l = 1; l <= levels; ++l) {
      if ((n >> (l - 1)) & 1) {
        const float* left = &stack[(l - 1) * d];
        for (int64_t j = 0; j < d; ++j) partial[j] = left[j] + partial[j];
        zsum = zstack[l - 1] + zsum;
      } else {
        for (int64_t j = 0; j < d; ++j) partial[j] = partial[j] + 0.0f;
        zsum = zsum + 0.0f;
      }
    }
  }
  for (int64_t j = 0; j < d; ++j) out[j] = partial[j] / zsum;
}

#if defined(__AVX512F__)
// pair_sum_weighted<64> with the newest subtree in registers and the pending left nodes in a
// local array: the same multiplications and additions in the same order (a row's values
// are widened in registers), without the round trips through heap scratch per key.
constexpr int kMaxLevels = 40;
void pair_sum_weighted64(const float* s, float m, const uint16_t* vals, int64_t n, int64_t p_ref, float* out,
                         std::vector<float>& e) {
  e.resize(n);
  for (int64_t t = 0; t < n; ++t) e[t] = exp_fixed(s[t] - m);
  int levels = 0;
  while ((int64_t(1) << levels) < p_ref) ++levels;
  TORCH_CHECK(levels < kMaxLevels, "attention over too many keys");
  alignas(64) float stack[(kMaxLevels + 1) * 64];
  float zstack[kMaxLevels + 1];
  const auto widened = [](const uint16_t* v) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)v)); };
  for (int64_t t = 0; t < n; ++t) {
    float z = e[t];
    const __m512 zv = _mm512_set1_ps(z);
    const uint16_t* v = vals + t * 64;
    __m512 l0 = _mm512_mul_ps(zv, widened(v)), l1 = _mm512_mul_ps(zv, widened(v + 16)),
           l2 = _mm512_mul_ps(zv, widened(v + 32)), l3 = _mm512_mul_ps(zv, widened(v + 48));
    int l = 0;
    for (; (t >> l) & 1; ++l) {
      const float* left = stack + l * 64;
      l0 = _mm512_add_ps(_mm512_load_ps(left), l0);
      l1 = _mm512_add_ps(_mm512_load_ps(left + 16), l1);
      l2 = _mm512_add_ps(_mm512_load_ps(left + 32), l2);
      l3 = _mm512_add_ps(_mm512_load_ps(left + 48), l3);
      z = zstack[l] + z;
    }
    float* slot = stack + l * 64;
    _mm512_store_ps(slot, l0);
    _mm512_store_ps(slot + 16, l1);
    _mm512_store_ps(slot + 32, l2);
    _mm512_store_ps(slot + 48, l3);
    zstack[l] = z;
  }
  __m512 p[4];
  float zsum;
  if (n == p_ref) {
    for (int i = 0; i < 4; ++i) p[i] = _mm512_load_ps(stack + levels * 64 + 16 * i);
    zsum = zstack[levels];
  } else {
    const __m512 zero = _mm512_setzero_ps();
    for (int i = 0; i < 4; ++i) p[i] = zero;
    zsum = 0.0f;
    for (int l = 1; l <= levels; ++l) {
      if ((n >> (l - 1)) & 1) {
        for (int i = 0; i < 4; ++i) p[i] = _mm512_add_ps(_mm512_load_ps(stack + (l - 1) * 64 + 16 * i), p[i]);
        zsum = zstack[l - 1] + zsum;
      } else {
        for (int i = 0; i < 4; ++i) p[i] = _mm512_add_ps(p[i], zero);
        zsum = zsum + 0.0f;
      }
    }
  }
  const __m512 zs = _mm512_set1_ps(zsum);
  for (int i = 0; i < 4; ++i) _mm512_storeu_ps(out + 16 * i, _mm512_div_ps(p[i], zs));
}
#endif

struct Layer {
  at::Tensor attn_norm, mlp_norm;
  Linear qkv, out, gate_up, down;
};

}  // namespace

class LlamaStep {
 public:
  LlamaStep(std::vector<std::vector<at::Tensor>> linears, std::vector<at::Tensor> norms, at::Tensor embed_w,
            at::Tensor embed_scale, at::Tensor final_norm, std::vector<at::Tensor> lm_head, at::Tensor cos,
            at::Tensor sin, int64_t heads, int64_t kv_heads, int64_t head_dim, int64_t intermediate, double eps,
            double attn_scale)
      : embed_w_(embed_w), embed_scale_(embed_scale), final_norm_(final_norm), cos_(cos), sin_(sin),
        heads_(heads), kv_heads_(kv_heads), d_(head_dim), inter_(intermediate), eps_((float)eps),
        attn_scale_((float)attn_scale) {
    dim_ = embed_w.size(1);
    TORCH_CHECK(linears.size() == 4 * norms.size() / 2 && norms.size() % 2 == 0, "layers");
    const int64_t qkv_k = dim_;
    for (size_t i = 0; i < norms.size() / 2; ++i) {
      layers_.push_back(Layer{norms[2 * i], norms[2 * i + 1], make_linear(linears[4 * i], qkv_k),
                              make_linear(linears[4 * i + 1], heads * head_dim), make_linear(linears[4 * i + 2], dim_),
                              make_linear(linears[4 * i + 3], intermediate)});
    }
    lm_head_ = make_linear(lm_head, dim_);
  }

  // tokens, cache_rows, positions: int64 [R], one query row each (a cache row at a position);
  // k_cache, v_cache: per layer float16 [B, Hkv, T_max, d], written at (cache_row, position)
  // (rounded to nearest even), read widened to float32;
  // key_count: the T the PyTorch path attends over (sets the tree's padding); logit_rows:
  // int64 [B'], the query rows whose logits to return. Returns float32 [B', V].
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& cache_rows, const at::Tensor& positions,
                     const std::vector<at::Tensor>& k_cache, const std::vector<at::Tensor>& v_cache,
                     int64_t key_count, const at::Tensor& logit_rows) {
    const int64_t R = tokens.numel(), D = dim_, d = d_, H = heads_, Hkv = kv_heads_, group = H / Hkv;
    const int64_t qn = H * d, kvn = Hkv * d;
    TORCH_CHECK(k_cache.size() == layers_.size() && v_cache.size() == layers_.size(), "caches");
    for (size_t li = 0; li < layers_.size(); ++li)
      for (const at::Tensor* c : {&k_cache[li], &v_cache[li]})
        TORCH_CHECK(c->scalar_type() == at::kHalf && c->is_contiguous() && c->dim() == 4 &&
                        c->sizes() == k_cache[0].sizes() && c->size(1) == kv_heads_ && c->size(3) == d_,
                    "caches: contiguous float16 [B, Hkv, T, d], the same shape in every layer");
    const int64_t* tok = tokens.data_ptr<int64_t>();
    const int64_t* crow = cache_rows.data_ptr<int64_t>();
    const int64_t* pos = positions.data_ptr<int64_t>();
    const int64_t t_max = k_cache[0].size(2), batch = k_cache[0].size(0);
    for (int64_t r = 0; r < R; ++r)
      TORCH_CHECK(pos[r] >= 0 && pos[r] < t_max && pos[r] < cos_.size(0) && crow[r] >= 0 && crow[r] < batch,
                  "position or cache row out of range");
    std::vector<float> h(R * D), x(R * std::max(D, inter_)), qkv(R * (qn + 2 * kvn)), att(R * qn),
        gu(R * 2 * inter_), tmp(R * std::max(D, 2 * inter_));
    // Kept between calls (per calling thread): no page faults for the big buffers each step.
    thread_local std::vector<uint8_t> u8;
    thread_local std::vector<float> xs;
    thread_local std::vector<int32_t> acc;
    const int8_t* ew = embed_w_.data_ptr<int8_t>();
    const float* es = embed_scale_.data_ptr<float>();
    for (int64_t r = 0; r < R; ++r)
      for (int64_t i = 0; i < D; ++i) h[r * D + i] = (float)ew[tok[r] * D + i] * es[tok[r]];
    const float* cosp = cos_.data_ptr<float>();
    const float* sinp = sin_.data_ptr<float>();
    const int64_t pd = pow2_at_least(d), pD = pow2_at_least(D);
    const int64_t p_ref = pow2_at_least(key_count);

    for (size_t li = 0; li < layers_.size(); ++li) {
      const Layer& L = layers_[li];
      uint16_t* kc = static_cast<uint16_t*>(k_cache[li].data_ptr());  // float16 bits
      uint16_t* vc = static_cast<uint16_t*>(v_cache[li].data_ptr());
      parallel_for(0, R, kRowGrain, [&](int64_t r0, int64_t r1) {
        std::vector<float> s(pD);
        for (int64_t r = r0; r < r1; ++r) rms_norm(&h[r * D], L.attn_norm.data_ptr<float>(), D, eps_, &x[r * D], s.data());
      });
      linear(L.qkv, x.data(), D, R, qkv.data(), qn + 2 * kvn, u8, xs, acc);
      // Rotary positions, then the new keys and values into the cache.
      for (int64_t r = 0; r < R; ++r) {
        float* row = &qkv[r * (qn + 2 * kvn)];
        const float* c = cosp + pos[r] * d;
        const float* sn = sinp + pos[r] * d;
        for (int64_t hh = 0; hh < H + Hkv; ++hh) rotate(row + hh * d, c, sn, d, &tmp[0]);
        for (int64_t kh = 0; kh < Hkv; ++kh) {
          const int64_t at_ = ((crow[r] * Hkv + kh) * t_max + pos[r]) * d;
          store_half(row + qn + kh * d, kc + at_, d);
          store_half(row + qn + kvn + kh * d, vc + at_, d);
        }
      }
      // Attention: threads split (row, key/value head) pairs.
      parallel_for(0, R * Hkv, 1, [&](int64_t t0, int64_t t1) {
        // Thread-local scratch, bound to plain references once (a TLS lookup per use is slow).
        thread_local std::vector<float> prods_tl, scores_tl, stack_tl, leaf_tl, partial_tl, zstack_tl, e_tl, wide_tl;
        std::vector<float> &prods = prods_tl, &scores = scores_tl, &stack = stack_tl, &leaf = leaf_tl,
                           &partial = partial_tl, &zstack = zstack_tl, &e = e_tl, &wide = wide_tl;
        prods.resize(pd);
        wide.resize(d);  // a key or value row, widened
        for (int64_t task = t0; task < t1; ++task) {
          const int64_t r = task / Hkv, kh = task % Hkv, n = pos[r] + 1;
          const uint16_t* keys = kc + (crow[r] * Hkv + kh) * t_max * d;
          const uint16_t* vals = vc + (crow[r] * Hkv + kh) * t_max * d;
          scores.resize(n);
          for (int64_t g = 0; g < group; ++g) {
            const int64_t hq = kh * group + g;
            const float* q = &qkv[r * (qn + 2 * kvn) + hq * d];
            float m = -INFINITY;
            for (int64_t t = 0; t < n; ++t) {
              float dot;
              if (d == 64) {
                dot = dot64_halving(q, keys + t * d);
              } else {
                widen_half(keys + t * d, wide.data(), d);
                for (int64_t j = 0; j < d; ++j) prods[j] = q[j] * wide[j];
                dot = halving_sum(prods.data(), d, pd);
              }
              scores[t] = dot * attn_scale_;
              m = std::max(m, scores[t]);
            }
            float* o = &att[r * qn + hq * d];
            if (d == 64)
#if defined(__AVX512F__)
              pair_sum_weighted64(scores.data(), m, vals, n, p_ref, o, e);
#else
              pair_sum_weighted<64>(scores.data(), m, vals, n, d, p_ref, o, stack, zstack, leaf, partial, e, wide);
#endif
            else
              pair_sum_weighted<0>(scores.data(), m, vals, n, d, p_ref, o, stack, zstack, leaf, partial, e, wide);
          }
        }
      });
      linear(L.out, att.data(), qn, R, tmp.data(), D, u8, xs, acc);
      for (int64_t i = 0; i < R * D; ++i) h[i] = h[i] + tmp[i];
      parallel_for(0, R, kRowGrain, [&](int64_t r0, int64_t r1) {
        std::vector<float> s(pD);
        for (int64_t r = r0; r < r1; ++r) rms_norm(&h[r * D], L.mlp_norm.data_ptr<float>(), D, eps_, &x[r * D], s.data());
      });
      linear(L.gate_up, x.data(), D, R, gu.data(), 2 * inter_, u8, xs, acc);
      parallel_for(0, R, kRowGrain, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* g = &gu[r * 2 * inter_];
          const float* up = g + inter_;
          float* a = &x[r * inter_];
          for (int64_t i = 0; i < inter_; ++i) a[i] = (g[i] / (exp_fixed(-g[i]) + 1.0f)) * up[i];
        }
      });
      linear(L.down, x.data(), inter_, R, tmp.data(), D, u8, xs, acc);
      for (int64_t i = 0; i < R * D; ++i) h[i] = h[i] + tmp[i];
    }
    const int64_t B = logit_rows.numel();
    const int64_t* lr = logit_rows.data_ptr<int64_t>();
    std::vector<float> last(B * D), s(pD);
    for (int64_t b = 0; b < B; ++b) rms_norm(&h[lr[b] * D], final_norm_.data_ptr<float>(), D, eps_, &last[b * D], s.data());
    at::Tensor logits = at::empty({B, lm_head_.n}, tokens.options().dtype(at::kFloat));
    linear(lm_head_, last.data(), D, B, logits.data_ptr<float>(), lm_head_.n, u8, xs, acc);
    return logits;
  }

 private:
  std::vector<Layer> layers_;
  Linear lm_head_;
  at::Tensor embed_w_, embed_scale_, final_norm_, cos_, sin_;
  int64_t heads_, kv_heads_, d_, inter_, dim_;
  float eps_, attn_scale_;
};

// x: uint8 [K] or [M, K] in [0, 127]; w, row_sums as packed by gemv.pack. int32 [n] or [M, n].
at::Tensor gemm_exact(const at::Tensor& x_in, const at::Tensor& w, const at::Tensor& row_sums, int64_t n) {
  TORCH_CHECK(x_in.scalar_type() == at::kByte && (x_in.dim() == 1 || x_in.dim() == 2), "x: uint8 [M, K]");
  TORCH_CHECK(w.scalar_type() == at::kChar && w.dim() == 2 && w.is_contiguous(), "w: packed int8");
  TORCH_CHECK(row_sums.scalar_type() == at::kInt && row_sums.is_contiguous(), "row_sums: int32");
  const at::Tensor x = x_in.contiguous();
  const int64_t m = x.dim() == 1 ? 1 : x.size(0), k = x.size(-1);
  const int64_t n_pad = w.size(0) * kBlock, k_pad = w.size(1) / kBlock;
  TORCH_CHECK(k <= k_pad && k_pad - k < 4, "x: wrong K for w");
  TORCH_CHECK(n <= n_pad && n_pad - n < 64 && row_sums.numel() == n_pad, "w: wrong N");
  TORCH_CHECK(k_pad <= (1 << 16), "K too large: |sum| <= 127 * 128 * K must fit in int32");
  std::vector<uint8_t> xs(m * k_pad, 0);
  uint8_t high = 0;
  const uint8_t* xp = x.data_ptr<uint8_t>();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j) {
      high |= xp[i * k + j];
      xs[i * k_pad + j] = xp[i * k + j];
    }
  TORCH_CHECK(high < 128, "activations must be in [0, 127]");
  std::vector<int32_t> acc(m * n_pad);
  gemm(xs.data(), m, k_pad, w.data_ptr<int8_t>(), row_sums.data_ptr<int32_t>(), n_pad, acc.data());
  at::Tensor y = x.dim() == 1 ? at::empty({n}, x.options().dtype(at::kInt)) : at::empty({m, n}, x.options().dtype(at::kInt));
  int32_t* yp = y.data_ptr<int32_t>();
  for (int64_t i = 0; i < m; ++i) std::memcpy(yp + i * n, acc.data() + i * n_pad, n * sizeof(int32_t));
  return y;
}

// The float primitives alone, for tests against fixed_order.py.
at::Tensor exp_fixed_tensor(const at::Tensor& x) {
  at::Tensor c = x.contiguous(), y = at::empty(c.sizes(), c.options());
  const float* a = c.data_ptr<float>();
  float* b = y.data_ptr<float>();
  for (int64_t i = 0; i < c.numel(); ++i) b[i] = exp_fixed(a[i]);
  return y;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.attr("isa") = kIsa;
  m.def("gemm", &gemm_exact, "exact int8 product", pybind11::call_guard<pybind11::gil_scoped_release>());
  m.def("set_threads", [](int64_t n) {
    TORCH_CHECK(n >= 0, "threads must be at least 1 (0: torch's intra-op count)");
    Pool::chosen_threads().store(int(n));
  }, "the engine's thread count (0: torch's intra-op count)");
  m.def("threads", [] { return Pool::chosen_threads().load(); });
  m.def("exp_fixed", &exp_fixed_tensor);
  m.def("to_half", [](const at::Tensor& x) {  // the cache's write: float32 -> float16
    at::Tensor c = x.contiguous(), y = at::empty(c.sizes(), c.options().dtype(at::kHalf));
    store_half(c.data_ptr<float>(), static_cast<uint16_t*>(y.data_ptr()), c.numel());
    return y;
  });
  m.def("widen_half", [](const at::Tensor& x) {  // the cache's read: float16 -> float32
    TORCH_CHECK(x.scalar_type() == at::kHalf, "x: float16");
    at::Tensor c = x.contiguous(), y = at::empty(c.sizes(), c.options().dtype(at::kFloat));
    widen_half(static_cast<const uint16_t*>(c.data_ptr()), y.data_ptr<float>(), c.numel());
    return y;
  });
  m.def("rsqrt_fixed", [](const at::Tensor& x) {
    at::Tensor c = x.contiguous(), y = at::empty(c.sizes(), c.options());
    for (int64_t i = 0; i < c.numel(); ++i) y.data_ptr<float>()[i] = rsqrt_fixed(c.data_ptr<float>()[i]);
    return y;
  });
  pybind11::class_<LlamaStep>(m, "LlamaStep")
      .def(pybind11::init<std::vector<std::vector<at::Tensor>>, std::vector<at::Tensor>, at::Tensor, at::Tensor,
                          at::Tensor, std::vector<at::Tensor>, at::Tensor, at::Tensor, int64_t, int64_t, int64_t,
                          int64_t, double, double>())
      .def("forward", &LlamaStep::forward, pybind11::call_guard<pybind11::gil_scoped_release>());
}
"""
