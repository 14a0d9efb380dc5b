using System.Numerics;
using System.Numerics.Tensors;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Elementwise kernels on flat buffers: activations (ReLU, Sigmoid) and their backward passes, residual add,
/// scaling. Parallel over fixed chunks; every element is computed independently, so results never depend on threads.
/// </summary>
public static unsafe class Elementwise
{
    const int ElementsPerChunk = 1 << 14;

    /// <summary>Runs <paramref name="body"/>(offset, length) over [0, count) in fixed chunks.</summary>
    public static void ForChunks(long count, Action<long, int> body)
    {
        int chunks = CpuParallel.ChunkCount(count, ElementsPerChunk);
        CpuParallel.For(chunks, chunk =>
        {
            long start = (long)chunk * ElementsPerChunk;
            body(start, (int)Math.Min(ElementsPerChunk, count - start));
        });
    }

    static Span<float> Span(float* p, long offset, int length) => new(p + offset, length);

    /// <summary>y = max(x, 0).</summary>
    public static void Relu(float* y, float* x, long count) =>
        ForChunks(count, (o, n) => TensorPrimitives.Max(Span(x, o, n), 0f, Span(y, o, n)));

    /// <summary>dx = dy where y &gt; 0, else 0 (overwritten).</summary>
    public static void ReluBackward(float* dx, float* dy, float* y, long count) =>
        VectorMap.Run(new ReluBackwardBody(dx, dy, y), count);

    readonly struct ReluBackwardBody(float* dx, float* dy, float* y) : IVectorBody
    {
        public void Apply<TSimd, TVector>(long i, int lanes) where TSimd : struct, ISimd<TVector> where TVector : struct =>
            VectorMap.Store<TSimd, TVector>(dx + i, TSimd.WherePositive(VectorMap.Load<TSimd, TVector>(y + i, lanes), VectorMap.Load<TSimd, TVector>(dy + i, lanes)), lanes);
    }

    /// <summary>
    /// y = 1 / (1 + e^-x). The last few values go through the same vector arithmetic (zero-padded), so that a value
    /// does not depend on where the tensor ends: data-parallel ranks hold other parts of the batch than one process.
    /// </summary>
    public static void Sigmoid(float* y, float* x, long count) =>
        ForChunks(count, (o, n) =>
        {
            long i = o, end = o + n;
            for (; i <= end - Vector<float>.Count; i += Vector<float>.Count)
                Sigmoid(Vector.Load(x + i)).Store(y + i);
            if (i < end)
            {
                int tail = (int)(end - i);
                float* lanes = stackalloc float[Vector<float>.Count];
                var padded = new Span<float>(lanes, Vector<float>.Count);
                padded.Clear();
                new ReadOnlySpan<float>(x + i, tail).CopyTo(padded);
                Sigmoid(Vector.Load(lanes)).Store(lanes);
                padded[..tail].CopyTo(new Span<float>(y + i, tail));
            }
        });

    static Vector<float> Sigmoid(Vector<float> v) => Vector<float>.One / (Vector<float>.One + Vector.Exp(-v));

    /// <summary>y = x · sigmoid(x) (SiLU), for graphs that apply it on its own (the engine fuses it into BN and SE).</summary>
    public static void Swish(float* y, float* x, long count) =>
        VectorMap.Run(new SwishBody(y, x), count);

    readonly struct SwishBody(float* y, float* x) : IVectorBody
    {
        public void Apply<TSimd, TVector>(long i, int lanes) where TSimd : struct, ISimd<TVector> where TVector : struct =>
            VectorMap.Store<TSimd, TVector>(y + i, SwishActivation.Forward<TSimd, TVector>(VectorMap.Load<TSimd, TVector>(x + i, lanes)), lanes);
    }

    /// <summary>dx = dy · y · (1 - y), with y the sigmoid's output (overwritten).</summary>
    public static void SigmoidBackward(float* dx, float* dy, float* y, long count) =>
        VectorMap.Run(new SigmoidBackwardBody(dx, dy, y), count);

    readonly struct SigmoidBackwardBody(float* dx, float* dy, float* y) : IVectorBody
    {
        public void Apply<TSimd, TVector>(long i, int lanes) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            TVector output = VectorMap.Load<TSimd, TVector>(y + i, lanes);
            TVector slope = TSimd.Multiply(output, TSimd.Subtract(TSimd.Broadcast(1f), output));
            VectorMap.Store<TSimd, TVector>(dx + i, TSimd.Multiply(VectorMap.Load<TSimd, TVector>(dy + i, lanes), slope), lanes);
        }
    }

    /// <summary>y = a + b, then ReLU when <paramref name="relu"/> (the residual join of a bottleneck block), in one pass.</summary>
    public static void Add(float* y, float* a, float* b, long count, bool relu) =>
        VectorMap.Run(new AddBody(y, a, b, relu), count);

    readonly struct AddBody(float* y, float* a, float* b, bool relu) : IVectorBody
    {
        public void Apply<TSimd, TVector>(long i, int lanes) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            TVector sum = TSimd.Add(VectorMap.Load<TSimd, TVector>(a + i, lanes), VectorMap.Load<TSimd, TVector>(b + i, lanes));
            VectorMap.Store<TSimd, TVector>(y + i, relu ? TSimd.Max(sum, TSimd.Zero) : sum, lanes);
        }
    }

    /// <summary>y += x.</summary>
    public static void AddInPlace(float* y, float* x, long count) =>
        ForChunks(count, (o, n) => TensorPrimitives.Add(Span(y, o, n), Span(x, o, n), Span(y, o, n)));

    /// <summary>x *= factor.</summary>
    public static void Scale(float* x, float factor, long count) =>
        ForChunks(count, (o, n) => TensorPrimitives.Multiply(Span(x, o, n), factor, Span(x, o, n)));

    /// <summary>x = value.</summary>
    public static void Fill(float* x, float value, long count) =>
        ForChunks(count, (o, n) => Span(x, o, n).Fill(value));

    /// <summary>Σ x², in double, reduced over fixed chunks in order (gradient-norm clipping).</summary>
    public static double SumOfSquares(float* x, long count)
    {
        int chunks = CpuParallel.ChunkCount(count, ElementsPerChunk);
        var partial = new double[chunks];
        CpuParallel.For(chunks, chunk =>
        {
            long start = (long)chunk * ElementsPerChunk;
            int n = (int)Math.Min(ElementsPerChunk, count - start);
            partial[chunk] = TensorPrimitives.SumOfSquares(Span(x, start, n));
        });
        double sum = 0;
        foreach (var p in partial)
            sum += p;
        return sum;
    }
}
