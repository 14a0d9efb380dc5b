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
    static abstract void Store(float* destination, TVector value);

    /// <summary>The first <paramref name="count"/> (1 to Width) lanes from source, zeros after; reads only those lanes.</summary>
    static abstract TVector LoadFirst(float* source, int count);

    /// <summary>Writes the first <paramref name="count"/> (1 to Width) lanes of value; touches no memory after them.</summary>
    static abstract void StoreFirst(float* destination, TVector value, int count);
    static abstract TVector Add(TVector left, TVector right);

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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* destination, Vector512<float> value) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadFirst(float* source, int count) => Avx512F.MaskLoad(source, Mask(count), Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFirst(float* destination, Vector512<float> value, int count) => Avx512F.MaskStore(destination, Mask(count), value);
    static Vector512<float> Mask(int count) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> left, Vector512<float> right) => left + right;
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* destination, Vector256<float> value) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadFirst(float* source, int count) => Avx.MaskLoad(source, Mask(count));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFirst(float* destination, Vector256<float> value, int count) => Avx.MaskStore(destination, Mask(count), value);
    static Vector256<float> Mask(int count) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> left, Vector256<float> right) => left + right;
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* destination, Vector128<float> value) => value.Store(destination);

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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* destination, float value) => *destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LoadFirst(float* source, int count) => *source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFirst(float* destination, float value, int count) => *destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float left, float right) => left + right;
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
    public static void AddLanes<TSimd, TVector>(float* destination, TVector value, int skip)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        if (skip == 0)
        {
            TSimd.Store(destination, TSimd.Add(TSimd.Load(destination), value));
            return;
        }
        float* lanes = stackalloc float[TSimd.Width];
        TSimd.Store(lanes, value);
        for (int lane = skip; lane < TSimd.Width; lane++)
            destination[lane] += lanes[lane];
    }
}
