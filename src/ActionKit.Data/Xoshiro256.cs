namespace ActionKit.Data;

/// <summary>xoshiro256** pseudo-random generator seeded through SplitMix64: a fixed, documented algorithm, so
/// a seed gives the same stream on every run and platform (System.Random's algorithm is unspecified).</summary>
internal sealed class Xoshiro256
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spareGaussian;

    public Xoshiro256(ulong seed)
    {
        _s0 = SplitMix64(ref seed);
        _s1 = SplitMix64(ref seed);
        _s2 = SplitMix64(ref seed);
        _s3 = SplitMix64(ref seed);
    }

    /// <summary>A seed for an independent stream, derived from a parent seed and a path of integers
    /// (e.g. class, video), so parallel work never shares a generator.</summary>
    public static ulong DeriveSeed(ulong seed, params ReadOnlySpan<long> path)
    {
        ulong state = seed;
        ulong hash = SplitMix64(ref state);
        foreach (long part in path)
        {
            state = hash ^ unchecked((ulong)part * 0xD1342543DE82EF95UL);
            hash = SplitMix64(ref state);
        }
        return hash;
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1), 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [min, max).</summary>
    public double Uniform(double min, double max) => min + (max - min) * NextDouble();

    /// <summary>Uniform integer in [0, exclusiveMax), unbiased (Lemire's multiply-and-reject).</summary>
    public int NextInt(int exclusiveMax)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(exclusiveMax);
        ulong bound = (ulong)exclusiveMax;
        ulong threshold = (0UL - bound) % bound;
        while (true)
        {
            UInt128 product = (UInt128)NextUInt64() * bound;
            if ((ulong)product >= threshold)
            {
                return (int)(ulong)(product >> 64);
            }
        }
    }

    /// <summary>Uniform integer in [min, max], both ends included (Python's random.randint).</summary>
    public int NextIntInclusive(int min, int max) => min + NextInt(max - min + 1);

    /// <summary>Standard normal sample (Box-Muller: each pair of uniforms gives two samples, the second is kept
    /// for the next call).</summary>
    public double Gaussian()
    {
        if (_spareGaussian is double spare)
        {
            _spareGaussian = null;
            return spare;
        }
        double radius = Math.Sqrt(-2.0 * Math.Log(1.0 - NextDouble()));
        (double sin, double cos) = Math.SinCos(2.0 * Math.PI * NextDouble());
        _spareGaussian = radius * sin;
        return radius * cos;
    }

    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
