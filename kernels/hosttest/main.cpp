// main.cpp: runs the kernels of ../ops.cu on the host, for
// kernels/hosttest_test.go, which builds this program with g++ and compares
// what the kernels compute with the CPU backend (gpu/cpu) and gpu.Mix,
// gpu.Uniform and gpu/ref.Placement.
//
// It reads launches from stdin and answers each on stdout, all little-endian:
//
//   request:  u32 name length, name, u32 grid, u32 block, u32 argument count,
//             then per argument a u8 kind and its value:
//               1 float buffer, 2 int32 buffer, 3 uint8 buffer, 8 uint64
//               buffer, 10 double buffer: u64 length, u64 offset
//               (elements), the elements;
//               the kernel gets the buffer's address plus the offset
//               9 the buffer of an earlier argument: u32 its index, u64 an
//               offset (elements): for kernels called in place
//               4 null pointer
//               5 int32, 6 float32, 7 uint64 scalar
//   answer:   u8 1, then every buffer argument (not the kind 9 ones), in
//             order, after the launch: u64 length, the elements
//
// An empty name or the end of stdin ends the program. A kernel that is not
// known, or an argument whose kind does not fit the kernel's parameter type
// (the C++ signature in ops.cu), ends it with a message on stderr and exit
// status 2: so the Go test also checks the parameter lists it packs.
//
// A launch runs blocks 0, 1, ... of the grid one after another; the threads
// of a block run as real threads (see shim.h), taken from a pool.
#include "shim.h"

#include "../ops.cu"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <vector>

thread_local repro_dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace {

// Barrier is the __syncthreads of one block.
struct Barrier {
    std::mutex mu;
    std::condition_variable cv;
    unsigned int n, waiting = 0, generation = 0;
    explicit Barrier(unsigned int count) : n(count) {}
    void wait() {
        std::unique_lock<std::mutex> lock(mu);
        unsigned int g = generation;
        if (++waiting == n) {
            waiting = 0;
            generation++;
            cv.notify_all();
            return;
        }
        cv.wait(lock, [&] { return generation != g; });
    }
};

Barrier* block_barrier;

[[noreturn]] void fatal(const std::string& msg) {
    fprintf(stderr, "hosttest: %s\n", msg.c_str());
    fflush(stderr);
    _exit(2); // not exit: destroying the pool would wait for its threads forever (a 10-minute hang in the Go test)
}

enum Kind : uint8_t {
    kF32 = 1,
    kI32 = 2,
    kU8 = 3,
    kNull = 4,
    kInt = 5,
    kFloat = 6,
    kU64 = 7,
    kU64Buf = 8,
    kAlias = 9,
    kF64Buf = 10,
};

const char* kind_name(int k) {
    switch (k) {
    case kF32: return "float buffer";
    case kI32: return "int32 buffer";
    case kU8: return "uint8 buffer";
    case kNull: return "null pointer";
    case kInt: return "int32";
    case kFloat: return "float32";
    case kU64: return "uint64";
    case kU64Buf: return "uint64 buffer";
    case kF64Buf: return "double buffer";
    }
    return "unknown kind";
}

size_t elem_size(int k) {
    switch (k) {
    case kF32: case kI32: return 4;
    case kU8: return 1;
    case kU64Buf: case kF64Buf: return 8;
    }
    return 0;
}

struct Arg {
    int kind = 0;
    std::vector<unsigned char> data; // buffers: exactly length*size bytes
    uint64_t length = 0, offset = 0;
    Arg* alias = nullptr; // kAlias: the argument whose buffer this is
    int32_t i = 0;
    float f = 0;
    uint64_t u = 0;
};

std::string where; // kernel and argument being converted, for messages

void* pointer(Arg& a, int want, int index) {
    if (a.kind == kNull) {
        return nullptr;
    }
    if (a.kind == kAlias) {
        if (a.alias->kind != want) {
            fatal(where + ": argument " + std::to_string(index) + " is a " + kind_name(a.alias->kind) +
                  ", the kernel takes a " + kind_name(want));
        }
        return a.alias->data.data() + a.offset * elem_size(want);
    }
    if (a.kind != want) {
        fatal(where + ": argument " + std::to_string(index) + " is a " + kind_name(a.kind) + ", the kernel takes a " +
              kind_name(want));
    }
    return a.data.data() + a.offset * elem_size(want);
}

template <class T> struct Conv;
template <> struct Conv<float*> {
    static float* get(Arg& a, int i) { return (float*)pointer(a, kF32, i); }
};
template <> struct Conv<const float*> {
    static const float* get(Arg& a, int i) { return (const float*)pointer(a, kF32, i); }
};
template <> struct Conv<int*> {
    static int* get(Arg& a, int i) { return (int*)pointer(a, kI32, i); }
};
template <> struct Conv<const int*> {
    static const int* get(Arg& a, int i) { return (const int*)pointer(a, kI32, i); }
};
template <> struct Conv<const unsigned char*> {
    static const unsigned char* get(Arg& a, int i) { return (const unsigned char*)pointer(a, kU8, i); }
};
template <> struct Conv<double*> {
    static double* get(Arg& a, int i) { return (double*)pointer(a, kF64Buf, i); }
};
template <> struct Conv<const double*> {
    static const double* get(Arg& a, int i) { return (const double*)pointer(a, kF64Buf, i); }
};
template <> struct Conv<unsigned long long*> {
    static unsigned long long* get(Arg& a, int i) { return (unsigned long long*)pointer(a, kU64Buf, i); }
};
template <> struct Conv<const unsigned long long*> {
    static const unsigned long long* get(Arg& a, int i) {
        return (const unsigned long long*)pointer(a, kU64Buf, i);
    }
};
void want_scalar(Arg& a, int kind, int i) {
    if (a.kind != kind) {
        fatal(where + ": argument " + std::to_string(i) + " is a " + kind_name(a.kind) + ", the kernel takes a " +
              kind_name(kind));
    }
}
template <> struct Conv<int> {
    static int get(Arg& a, int i) {
        want_scalar(a, kInt, i);
        return a.i;
    }
};
template <> struct Conv<float> {
    static float get(Arg& a, int i) {
        want_scalar(a, kFloat, i);
        return a.f;
    }
};
template <> struct Conv<unsigned long long> {
    static unsigned long long get(Arg& a, int i) {
        want_scalar(a, kU64, i);
        return a.u;
    }
};

struct Kernel {
    size_t params;
    // bind converts the arguments (checking their kinds) and returns the call
    std::function<std::function<void()>(std::vector<Arg>&)> bind;
};

template <class... A, size_t... I>
std::function<void()> bind_args(void (*f)(A...), std::vector<Arg>& args, std::index_sequence<I...>) {
    auto vals = std::make_tuple(Conv<A>::get(args[I], (int)I)...);
    return [f, vals] { std::apply(f, vals); };
}

template <class... A> Kernel kernel(void (*f)(A...)) {
    return Kernel{sizeof...(A), [f](std::vector<Arg>& args) {
                      return bind_args(f, args, std::index_sequence_for<A...>{});
                  }};
}

// Host-only entry points that expose the inline functions of ops.cu.
void t_mix(unsigned long long* out, const unsigned long long* a, const unsigned long long* b, int n) {
    for (int i = 0; i < n; i++) {
        out[i] = repro_mix(a[i], b[i]);
    }
}

void t_uniform(float* out, const unsigned long long* bits, int n) {
    for (int i = 0; i < n; i++) {
        out[i] = repro_uniform(bits[i]);
    }
}

// t_place writes image, oy, ox, flip of each pool item.
void t_place(int* out, const int* items, int count, int N, int random, int minOff, int maxOff, int center, int flip,
             int isStatic, int keepOriginal, unsigned long long seed, int epoch) {
    for (int i = 0; i < count; i++) {
        AugPlace p = augment_place(items[i], N, random, minOff, maxOff, center, flip, isStatic, keepOriginal, seed,
                                   epoch);
        out[4 * i] = p.img;
        out[4 * i + 1] = p.oy;
        out[4 * i + 2] = p.ox;
        out[4 * i + 3] = p.flip;
    }
}

const std::map<std::string, Kernel>& kernels() {
    static const std::map<std::string, Kernel> k = {
        {"fill_view", kernel(fill_view)},
        {"copy_view", kernel(copy_view)},
        {"relu_forward", kernel(relu_forward)},
        {"relu_backward", kernel(relu_backward)},
        {"add_forward", kernel(add_forward)},
        {"residual_forward", kernel(residual_forward)},
        {"shortcut_backward", kernel(shortcut_backward)},
        {"avgpool_forward", kernel(avgpool_forward)},
        {"avgpool_backward", kernel(avgpool_backward)},
        {"gap_forward", kernel(gap_forward)},
        {"gap_backward", kernel(gap_backward)},
        {"dropout", kernel(dropout)},
        {"softmax_xent", kernel(softmax_xent)},
        {"bias_rows", kernel(bias_rows)},
        {"bias_grad", kernel(bias_grad)},
        {"sgd_step", kernel(sgd_step)},
        {"adam_step", kernel(adam_step)},
        {"build_batch", kernel(build_batch)},
        {"bn_stats", kernel(bn_stats)},
        {"bn_coeffs_train", kernel(bn_coeffs_train)},
        {"bn_coeffs_infer", kernel(bn_coeffs_infer)},
        {"bn_apply", kernel(bn_apply)},
        {"bn_grad_stats", kernel(bn_grad_stats)},
        {"bn_grad_apply", kernel(bn_grad_apply)},
        {"t_mix", kernel(t_mix)},
        {"t_uniform", kernel(t_uniform)},
        {"t_place", kernel(t_place)},
    };
    return k;
}

// Pool is the threads that run the blocks: created once, as many as the
// largest block so far, since creating threads costs more than the small
// launches of the tests.
struct Pool {
    std::mutex mu;
    std::condition_variable start, done;
    std::vector<std::thread> threads;
    const std::function<void()>* call = nullptr;
    unsigned int grid = 0, block = 0, blockIndex = 0, remaining = 0;
    uint64_t generation = 0;

    void worker(unsigned int t) {
        uint64_t seen = 0;
        for (;;) {
            std::unique_lock<std::mutex> lock(mu);
            start.wait(lock, [&] { return generation != seen; });
            seen = generation;
            if (t >= block) {
                continue;
            }
            const std::function<void()>* f = call;
            threadIdx = {t, 0, 0};
            blockIdx = {blockIndex, 0, 0};
            blockDim = {block, 1, 1};
            gridDim = {grid, 1, 1};
            lock.unlock();
            (*f)();
            lock.lock();
            if (--remaining == 0) {
                done.notify_one();
            }
        }
    }

    // run runs blocks 0, 1, ... of the grid one after another.
    void run(const std::function<void()>& f, unsigned int g, unsigned int b) {
        while (threads.size() < b) {
            unsigned int t = (unsigned int)threads.size();
            threads.emplace_back([this, t] { worker(t); });
            threads.back().detach();
        }
        for (unsigned int i = 0; i < g; i++) {
            Barrier barrier(b);
            block_barrier = &barrier;
            std::unique_lock<std::mutex> lock(mu);
            call = &f;
            grid = g;
            block = b;
            blockIndex = i;
            remaining = b;
            generation++;
            start.notify_all();
            done.wait(lock, [&] { return remaining == 0; });
            block_barrier = nullptr;
        }
    }
};

bool read_all(void* p, size_t n) { return fread(p, 1, n, stdin) == n; }

template <class T> T read_value() {
    T v;
    if (!read_all(&v, sizeof v)) {
        fatal("truncated request");
    }
    return v;
}

void write_all(const void* p, size_t n) {
    if (fwrite(p, 1, n, stdout) != n) {
        fatal("writing the answer failed");
    }
}

} // namespace

void __syncthreads() {
    if (!block_barrier) {
        fatal("__syncthreads outside a launch");
    }
    block_barrier->wait();
}

int main() {
    static Pool pool;
    for (;;) {
        uint32_t nameLen;
        if (!read_all(&nameLen, sizeof nameLen) || nameLen == 0) {
            fflush(stdout);
            _exit(0); // the pool's threads wait forever
        }
        std::string name(nameLen, '\0');
        if (!read_all(&name[0], nameLen)) {
            fatal("truncated request");
        }
        uint32_t grid = read_value<uint32_t>(), block = read_value<uint32_t>(), nargs = read_value<uint32_t>();
        std::vector<Arg> args(nargs);
        for (auto& a : args) {
            a.kind = read_value<uint8_t>();
            switch (a.kind) {
            case kF32: case kI32: case kU8: case kU64Buf: case kF64Buf: {
                a.length = read_value<uint64_t>();
                a.offset = read_value<uint64_t>();
                if (a.offset > a.length) {
                    fatal(name + ": buffer offset beyond its length");
                }
                a.data.resize(a.length * elem_size(a.kind));
                if (!a.data.empty() && !read_all(a.data.data(), a.data.size())) {
                    fatal("truncated request");
                }
                break;
            }
            case kAlias: {
                uint32_t i = read_value<uint32_t>();
                a.offset = read_value<uint64_t>();
                if (i >= (uint32_t)(&a - &args[0]) || elem_size(args[i].kind) == 0) {
                    fatal(name + ": argument " + std::to_string(&a - &args[0]) + " names no earlier buffer");
                }
                a.alias = &args[i];
                if (a.offset > a.alias->length) {
                    fatal(name + ": buffer offset beyond its length");
                }
                break;
            }
            case kNull: break;
            case kInt: a.i = read_value<int32_t>(); break;
            case kFloat: a.f = read_value<float>(); break;
            case kU64: a.u = read_value<uint64_t>(); break;
            default: fatal(name + ": unknown argument kind " + std::to_string(a.kind));
            }
        }
        auto it = kernels().find(name);
        if (it == kernels().end()) {
            fatal("no kernel " + name);
        }
        if (it->second.params != nargs) {
            fatal(name + ": " + std::to_string(nargs) + " arguments, the kernel takes " +
                  std::to_string(it->second.params));
        }
        if (grid == 0 || block == 0 || block > 1024) {
            fatal(name + ": grid " + std::to_string(grid) + ", block " + std::to_string(block));
        }
        where = name;
        std::function<void()> call = it->second.bind(args);
        pool.run(call, grid, block);
        uint8_t ok = 1;
        write_all(&ok, 1);
        for (auto& a : args) {
            if (elem_size(a.kind) == 0) {
                continue;
            }
            write_all(&a.length, sizeof a.length);
            write_all(a.data.data(), a.data.size());
        }
        fflush(stdout);
    }
}
