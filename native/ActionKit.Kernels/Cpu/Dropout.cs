namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Inverted dropout with a counter-based random stream: element i's draw depends only on (seed, i), so the mask is
/// the same on every backend and thread schedule.
/// </summary>
public static unsafe class Dropout
{
    /// <summary>mask[i] = 0 with probability p, else 1/(1-p); y = x · mask.</summary>
    public static void Forward(float* y, float* mask, float* x, long count, float probability, ulong seed)
    {
        float keep = 1f / (1f - probability);
        Elementwise.ForChunks(count, (o, n) =>
        {
            for (long i = o; i < o + n; i++)
            {
                mask[i] = CounterRandom.Uniform(seed, (ulong)i) < probability ? 0f : keep;
                y[i] = x[i] * mask[i];
            }
        });
    }

    /// <summary>dx = dy · mask (overwritten).</summary>
    public static void Backward(float* dx, float* dy, float* mask, long count) =>
        VectorMap.Run(new BackwardBody(dx, dy, mask), count);

    readonly struct BackwardBody(float* dx, float* dy, float* mask) : IVectorBody
    {
        public void Apply<TSimd, TVector>(long i, int lanes) where TSimd : struct, ISimd<TVector> where TVector : struct =>
            VectorMap.Store<TSimd, TVector>(dx + i, TSimd.Multiply(VectorMap.Load<TSimd, TVector>(dy + i, lanes), VectorMap.Load<TSimd, TVector>(mask + i, lanes)), lanes);
    }
}

/// <summary>Stateless random numbers: a SplitMix64 hash of (seed, counter).</summary>
public static class CounterRandom
{
    // SplitMix64's increment, 2^64 / φ.
    const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>64 well-mixed bits for (seed, counter).</summary>
    public static ulong Hash(ulong seed, ulong counter)
    {
        ulong z = seed + (counter + 1) * Golden;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The seed whose stream is this seed's stream from counter <paramref name="count"/> on:
    /// Hash(Skip(seed, count), i) = Hash(seed, count + i), since the hash starts from seed + (counter + 1)·γ.</summary>
    public static ulong Skip(ulong seed, ulong count) => seed + count * Golden;

    /// <summary>Uniform in [0, 1) with 24 bits of resolution.</summary>
    public static float Uniform(ulong seed, ulong counter) => (Hash(seed, counter) >> 40) * (1f / (1 << 24));
}
