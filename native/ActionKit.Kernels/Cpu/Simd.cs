using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

[assembly: InternalsVisibleTo("ActionKit.Kernels.Tests")]

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Float SIMD operations of one fixed width as static members, so that each CPU kernel is written once, as a generic
/// method, and compiled by the JIT into straight vector code for every width.
/// </summary>
internal unsafe interface ISimd<TVector> where TVector : struct
{
    static abstract int Width { get; }
    static abstract TVector Zero { get; }
    static abstract TVector Broadcast(float value);
    static abstract TVector Load(float* source);

    /// <summary>Width bytes from source, zero-extended to floats (8-bit codes as the levels they stand for).</summary>
    static abstract TVector LoadBytes(byte* source);
    static abstract void Store(float* destination, TVector value);

    /// <summary>The first <paramref name="count"/> (1 to Width) lanes from source, zeros after; reads only those lanes.</summary>
    static abstract TVector LoadFirst(float* source, int count);

    /// <summary>Writes the first <paramref name="count"/> (1 to Width) lanes of value; touches no memory after them.</summary>
    static abstract void StoreFirst(float* destination, TVector value, int count);
    static abstract TVector Add(TVector left, TVector right);

    /// <summary>The sum of the lanes.</summary>
    static abstract float Sum(TVector value);
    static abstract TVector Subtract(TVector left, TVector right);
    static abstract TVector Multiply(TVector left, TVector right);
    static abstract TVector Divide(TVector left, TVector right);
    static abstract TVector Sqrt(TVector value);
    static abstract TVector Max(TVector left, TVector right);
    static abstract TVector Min(TVector left, TVector right);

    /// <summary>1 / value to within a few units in the last place (an estimate refined by a Newton step, no division).</summary>
    static abstract TVector Reciprocal(TVector value);

    /// <summary>Rounds each lane to the nearest integer (ties to even).</summary>
    static abstract TVector Round(TVector value);

    /// <summary>2^n for lanes holding integers n in [-126, 127], built from the exponent bits.</summary>
    static abstract TVector PowerOfTwo(TVector n);

    /// <summary>value with its first <paramref name="count"/> (0 to Width) lanes set to zero.</summary>
    static abstract TVector ZeroFirst(TVector value, int count);

    /// <summary>value where condition &gt; 0, else 0.</summary>
    static abstract TVector WherePositive(TVector condition, TVector value);

    /// <summary>a · b + addend with a single rounding.</summary>
    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector addend);
}

/// <summary>16 floats per vector (AVX-512F).</summary>
internal unsafe struct Simd512 : ISimd<Vector512<float>>
{
    public static int Width => 16;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* source) => Vector512.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadBytes(byte* source) => Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(source)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* destination, Vector512<float> value) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadFirst(float* source, int count) => Avx512F.MaskLoad(source, Mask(count), Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFirst(float* destination, Vector512<float> value, int count) => Avx512F.MaskStore(destination, Mask(count), value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> ZeroFirst(Vector512<float> value, int count) => Vector512.ConditionalSelect(Mask(count), Vector512<float>.Zero, value);
    static Vector512<float> Mask(int count) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> left, Vector512<float> right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> value) => Vector512.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> left, Vector512<float> right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> left, Vector512<float> right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> left, Vector512<float> right) => left / right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sqrt(Vector512<float> value) => Vector512.Sqrt(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> left, Vector512<float> right) => Vector512.MaxNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> left, Vector512<float> right) => Vector512.MinNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Reciprocal(Vector512<float> value) => Refine(Avx512F.Reciprocal14(value), value);
    static Vector512<float> Refine(Vector512<float> estimate, Vector512<float> value) => estimate * Vector512.FusedMultiplyAdd(-value, estimate, Vector512.Create(2f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Round(Vector512<float> value) => Vector512.Round(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> PowerOfTwo(Vector512<float> n) => Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> WherePositive(Vector512<float> condition, Vector512<float> value) => Vector512.ConditionalSelect(Vector512.GreaterThan(condition, Vector512<float>.Zero), value, Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> addend) => Vector512.FusedMultiplyAdd(a, b, addend);
}

/// <summary>8 floats per vector (AVX2 with FMA).</summary>
internal unsafe struct Simd256 : ISimd<Vector256<float>>
{
    public static int Width => 8;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* source) => Vector256.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadBytes(byte* source) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* destination, Vector256<float> value) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadFirst(float* source, int count) => Avx.MaskLoad(source, Mask(count));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFirst(float* destination, Vector256<float> value, int count) => Avx.MaskStore(destination, Mask(count), value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> ZeroFirst(Vector256<float> value, int count) => Vector256.ConditionalSelect(Mask(count), Vector256<float>.Zero, value);
    static Vector256<float> Mask(int count) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> left, Vector256<float> right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> value) => Vector256.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> left, Vector256<float> right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> left, Vector256<float> right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> left, Vector256<float> right) => left / right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> value) => Vector256.Sqrt(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> left, Vector256<float> right) => Vector256.MaxNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> left, Vector256<float> right) => Vector256.MinNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Reciprocal(Vector256<float> value) => Refine(Avx.Reciprocal(value), value);
    static Vector256<float> Refine(Vector256<float> estimate, Vector256<float> value) => estimate * Vector256.FusedMultiplyAdd(-value, estimate, Vector256.Create(2f));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Round(Vector256<float> value) => Vector256.Round(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> PowerOfTwo(Vector256<float> n) => Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n) + Vector256.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> WherePositive(Vector256<float> condition, Vector256<float> value) => Vector256.ConditionalSelect(Vector256.GreaterThan(condition, Vector256<float>.Zero), value, Vector256<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> addend) => Vector256.FusedMultiplyAdd(a, b, addend);
}

/// <summary>4 floats per vector: the portable path (SSE on x64, NEON on Arm64).</summary>
internal unsafe struct Simd128 : ISimd<Vector128<float>>
{
    public static int Width => 4;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float value) => Vector128.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* source) => Vector128.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> LoadBytes(byte* source) => Vector128.ConvertToSingle(Vector128.Create(source[0], source[1], source[2], (int)source[3]));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* destination, Vector128<float> value) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ZeroFirst(Vector128<float> value, int count) =>
        Vector128.ConditionalSelect(Vector128.LessThan(Vector128<int>.Indices, Vector128.Create(count)).AsSingle(), Vector128<float>.Zero, value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadFirst(float* source, int count) => count == 4
        ? Vector128.Load(source)
        : Vector128.Create(source[0], count > 1 ? source[1] : 0f, count > 2 ? source[2] : 0f, 0f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(float* destination, Vector128<float> value, int count)
    {
        if (count == 4)
        {
            value.Store(destination);
            return;
        }
        for (int lane = 0; lane < count; lane++)
            destination[lane] = value.GetElement(lane);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> left, Vector128<float> right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector128<float> value) => Vector128.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> left, Vector128<float> right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> left, Vector128<float> right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Divide(Vector128<float> left, Vector128<float> right) => left / right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sqrt(Vector128<float> value) => Vector128.Sqrt(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> left, Vector128<float> right) => Vector128.MaxNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Min(Vector128<float> left, Vector128<float> right) => Vector128.MinNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Reciprocal(Vector128<float> value) => Vector128<float>.One / value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Round(Vector128<float> value) => Vector128.Round(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> PowerOfTwo(Vector128<float> n) => Vector128.ShiftLeft(Vector128.ConvertToInt32Native(n) + Vector128.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> WherePositive(Vector128<float> condition, Vector128<float> value) => Vector128.ConditionalSelect(Vector128.GreaterThan(condition, Vector128<float>.Zero), value, Vector128<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> addend) => Vector128.FusedMultiplyAdd(a, b, addend);
}

/// <summary>One float per "vector": runs everywhere, and covers channel counts below every vector width.</summary>
internal unsafe struct SimdScalar : ISimd<float>
{
    public static int Width => 1;
    public static float Zero => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Broadcast(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(float* source) => *source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LoadBytes(byte* source) => *source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* destination, float value) => *destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ZeroFirst(float value, int count) => count > 0 ? 0f : value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LoadFirst(float* source, int count) => *source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFirst(float* destination, float value, int count) => *destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float left, float right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Subtract(float left, float right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Multiply(float left, float right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Divide(float left, float right) => left / right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float value) => MathF.Sqrt(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Max(float left, float right) => MathF.Max(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Min(float left, float right) => MathF.Min(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Reciprocal(float value) => 1f / value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Round(float value) => MathF.Round(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float PowerOfTwo(float n) => BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float WherePositive(float condition, float value) => condition > 0 ? value : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MultiplyAdd(float a, float b, float addend) => MathF.FusedMultiplyAdd(a, b, addend);
}

/// <summary>A flag known when the JIT compiles a generic kernel, so that the code it switches off disappears.</summary>
internal interface IFlag
{
    static abstract bool IsOn { get; }
}

internal readonly struct On : IFlag
{
    public static bool IsOn => true;
}

internal readonly struct Off : IFlag
{
    public static bool IsOn => false;
}

/// <summary>A kernel body written once for every vector width; <see cref="Simd.Run"/> picks the width.</summary>
internal interface ISimdKernel
{
    void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct;
}

/// <summary>Chooses the vector width for a kernel call and holds the small loops every kernel shares.</summary>
internal static unsafe class Simd
{
    /// <summary>Widest vector the kernels may use (16, 8, 4 or 1); tests lower it to exercise the narrower paths.</summary>
    public static int MaxWidth { get; set; } = 16;

    /// <summary>
    /// Runs <paramref name="kernel"/> with the widest hardware-accelerated width that is at most
    /// <paramref name="widthLimit"/> and <see cref="MaxWidth"/>.
    /// </summary>
    public static void Run<TKernel>(ref TKernel kernel, int widthLimit) where TKernel : struct, ISimdKernel
    {
        int limit = Math.Min(widthLimit, MaxWidth);
        if (limit >= 16 && Avx512F.IsSupported)
            kernel.Run<Simd512, Vector512<float>>();
        else if (limit >= 8 && Avx2.IsSupported && Fma.IsSupported)
            kernel.Run<Simd256, Vector256<float>>();
        else if (limit >= 4 && Vector128.IsHardwareAccelerated)
            kernel.Run<Simd128, Vector128<float>>();
        else
            kernel.Run<SimdScalar, float>();
    }

    /// <summary>
    /// destination[i] = (accumulate ? destination[i] : 0) + Σ_chunk partials[chunk · length + i], summed in chunk
    /// order so the result does not depend on which thread produced which chunk.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SumChunks<TSimd, TVector>(float* destination, float* partials, long length, int chunks, bool accumulate)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        long i = 0;
        for (; i + TSimd.Width <= length; i += TSimd.Width)
        {
            TVector sum = accumulate ? TSimd.Load(destination + i) : TSimd.Zero;
            for (int chunk = 0; chunk < chunks; chunk++)
                sum = TSimd.Add(sum, TSimd.Load(partials + (long)chunk * length + i));
            TSimd.Store(destination + i, sum);
        }
        for (; i < length; i++)
        {
            float sum = accumulate ? destination[i] : 0f;
            for (int chunk = 0; chunk < chunks; chunk++)
                sum += partials[(long)chunk * length + i];
            destination[i] = sum;
        }
    }

    /// <summary>destination[lane] += value[lane] for lane &gt;= skip; the skipped lanes overlap the previous vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddLanes<TSimd, TVector>(float* destination, TVector value, int skip)
        where TSimd : struct, ISimd<TVector> where TVector : struct =>
        TSimd.Store(destination, TSimd.Add(TSimd.Load(destination), TSimd.ZeroFirst(value, skip)));

    /// <summary>
    /// e^x to about 2e-7 relative error: x = n·ln2 + r with |r| ≤ ln2/2, e^r by its Taylor series to r⁶/720, times
    /// 2^n. x is clamped to [-87, 88] so 2^n stays a normal float (e^-87 ≈ 1.6e-38, e^88 ≈ 1.7e38).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Exp<TSimd, TVector>(TVector x) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        x = TSimd.Min(TSimd.Max(x, TSimd.Broadcast(-87f)), TSimd.Broadcast(88f));
        TVector n = TSimd.Round(TSimd.Multiply(x, TSimd.Broadcast(1.44269504f)));
        // ln 2 in two parts, so that n·ln2 is subtracted without rounding error.
        TVector r = TSimd.MultiplyAdd(n, TSimd.Broadcast(-0.693145752f), x);
        r = TSimd.MultiplyAdd(n, TSimd.Broadcast(-1.42860682e-6f), r);
        TVector p = TSimd.MultiplyAdd(r, TSimd.Broadcast(1f / 720), TSimd.Broadcast(1f / 120));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(1f / 24));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(1f / 6));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(0.5f));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(1f));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(1f));
        return TSimd.Multiply(p, TSimd.PowerOfTwo(n));
    }
}
