using System.Runtime.CompilerServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>An elementwise kernel body over one vector of elements: [i, i + lanes), lanes = Width but at the very end.</summary>
internal interface IVectorBody
{
    void Apply<TSimd, TVector>(long i, int lanes) where TSimd : struct, ISimd<TVector> where TVector : struct;
}

/// <summary>
/// Runs an <see cref="IVectorBody"/> over [0, count) at the widest vector width, in the fixed chunks of
/// <see cref="Elementwise.ForChunks"/>, the last vector masked.
/// </summary>
internal static unsafe class VectorMap
{
    public static void Run<TBody>(in TBody body, long count) where TBody : struct, IVectorBody
    {
        var job = new Job<TBody>(body, count);
        Simd.Run(ref job, int.MaxValue);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Load<TSimd, TVector>(float* source, int lanes) where TSimd : struct, ISimd<TVector> where TVector : struct =>
        lanes == TSimd.Width ? TSimd.Load(source) : TSimd.LoadFirst(source, lanes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<TSimd, TVector>(float* destination, TVector value, int lanes) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        if (lanes == TSimd.Width)
            TSimd.Store(destination, value);
        else
            TSimd.StoreFirst(destination, value, lanes);
    }

    readonly struct Job<TBody>(TBody body, long count) : ISimdKernel where TBody : struct, IVectorBody
    {
        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            Elementwise.ForChunks(count, job.Chunk<TSimd, TVector>);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Chunk<TSimd, TVector>(long start, int length) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            long end = start + length;
            for (long i = start; i < end; i += TSimd.Width)
                body.Apply<TSimd, TVector>(i, (int)Math.Min(TSimd.Width, end - i));
        }
    }
}
