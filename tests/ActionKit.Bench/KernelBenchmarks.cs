using System.Numerics;
using System.Runtime.InteropServices;
using ActionKit.Kernels;
using ActionKit.Kernels.Cpu;

namespace ActionKit.Bench;

/// <summary>
/// GFLOP/s (2 x multiply-adds per second) of the CPU depthwise and pointwise kernels on an X3D stage-2 activation
/// [8, 4, 28, 28, 108], each next to plain single-threaded Vector&lt;T&gt; loops measured in the same run.
/// </summary>
public static unsafe class KernelBenchmarks
{
    const string Peer = "Vector<T> loops, 1 thread";

    public static IEnumerable<BenchmarkRow> Run()
    {
        var g = new ConvGeometry(8, 4, 28, 28, 108, 108, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1);
        var rows = new List<BenchmarkRow>();
        using (var t = new Buffers(g.InputLength, g.OutputLength, (long)g.InChannels * g.KernelVolume))
        {
            double flops = 2.0 * g.MultiplyAdds(g.InChannels);
            void Forward() => DepthwiseConv3d.Forward(t.Y, t.X, t.W, g);
            void ForwardBackward()
            {
                Forward();
                DepthwiseConv3d.BackwardInput(t.DX, t.DY, t.W, g);
                DepthwiseConv3d.BackwardWeight(t.DW, t.DY, t.X, g);
            }
            void PeerForwardBackward()
            {
                PlainDepthwise(t.Y, t.X, t.W, g, Pass.Forward);
                PlainDepthwise(t.DX, t.DY, t.W, g, Pass.BackwardInput);
                PlainDepthwise(t.DW, t.DY, t.X, g, Pass.BackwardWeight);
            }
            const string group = "depthwise 3x3x3, 8x4x28x28x108";
            rows.Add(Row(group, "forward", flops, Forward, () => PlainDepthwise(t.Y, t.X, t.W, g, Pass.Forward)));
            rows.Add(Row(group, "forward+backward", 3 * flops, ForwardBackward, PeerForwardBackward));
        }

        int m = g.Batch * g.InDepth * g.InHeight * g.InWidth, cin = g.InChannels, cout = 48;
        using (var t = new Buffers((long)m * cin, (long)m * cout, (long)cout * cin))
        {
            double flops = 2.0 * m * cin * cout;
            const string group = "pointwise 108->48, M=25088";
            // The peer reads the forward weight transposed, prepared once outside the timing.
            float* weightT = t.Scratch;
            for (int o = 0; o < cout; o++)
                for (int i = 0; i < cin; i++)
                    weightT[i * cout + o] = t.W[o * cin + i];
            rows.Add(Row(group, "forward Y=X·Wᵀ", flops,
                () => Gemm.Multiply(t.Y, t.X, t.W, m, cout, cin, false, true, false),
                () => PlainGemm(t.Y, t.X, weightT, m, cout, cin, transposeA: false)));
            rows.Add(Row(group, "backward-data dX=dY·W", flops,
                () => Gemm.Multiply(t.DX, t.DY, t.W, m, cin, cout, false, false, false),
                () => PlainGemm(t.DX, t.DY, t.W, m, cin, cout, transposeA: false)));
            rows.Add(Row(group, "backward-weight dW+=dYᵀ·X", flops,
                () => Gemm.Multiply(t.DW, t.DY, t.X, cout, cin, m, true, false, true),
                () => PlainGemm(t.DW, t.DY, t.X, cout, cin, m, transposeA: true)));
            rows.Add(Row(group, "forward+backward", 3 * flops,
                () =>
                {
                    Gemm.Multiply(t.Y, t.X, t.W, m, cout, cin, false, true, false);
                    Gemm.Multiply(t.DX, t.DY, t.W, m, cin, cout, false, false, false);
                    Gemm.Multiply(t.DW, t.DY, t.X, cout, cin, m, true, false, true);
                },
                () =>
                {
                    PlainGemm(t.Y, t.X, weightT, m, cout, cin, transposeA: false);
                    PlainGemm(t.DX, t.DY, t.W, m, cin, cout, transposeA: false);
                    PlainGemm(t.DW, t.DY, t.X, cout, cin, m, transposeA: true);
                }));
        }
        return rows;
    }

    static BenchmarkRow Row(string group, string name, double flops, Action kernel, Action peer) =>
        new(group, name, flops / Timing.MedianSeconds(kernel) / 1e9, "GFLOP/s", Peer, flops / Timing.MedianSeconds(peer) / 1e9);

    // c[m,n] += op(a)[m,k] · b[k,n] (c cleared first unless transposeA, the accumulating weight gradient), one row of
    // b at a time, vectorized over n.
    static void PlainGemm(float* c, float* a, float* b, int m, int n, int k, bool transposeA)
    {
        if (!transposeA)
            new Span<float>(c, m * n).Clear();
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
            {
                float aip = transposeA ? a[(long)p * m + i] : a[(long)i * k + p];
                float* row = c + (long)i * n, bRow = b + (long)p * n;
                int j = 0;
                for (; j + Vector<float>.Count <= n; j += Vector<float>.Count)
                    Vector.Store(Vector.Load(row + j) + aip * Vector.Load(bRow + j), row + j);
                for (; j < n; j++)
                    row[j] += aip * bRow[j];
            }
    }

    enum Pass { Forward, BackwardInput, BackwardWeight }

    // The depthwise passes as one loop nest over (output position, tap), vectorized over channels: forward gathers
    // into the output, backward-input scatters into dInput, backward-weight accumulates into dWeight [taps, C].
    static void PlainDepthwise(float* target, float* first, float* second, in ConvGeometry g, Pass pass)
    {
        int channels = g.InChannels, vector = Vector<float>.Count;
        if (pass != Pass.BackwardWeight)
            new Span<float>(target, checked((int)(pass == Pass.Forward ? g.OutputLength : g.InputLength))).Clear();
        for (int n = 0; n < g.Batch; n++)
            for (int z = 0; z < g.OutDepth; z++)
                for (int y = 0; y < g.OutHeight; y++)
                    for (int x = 0; x < g.OutWidth; x++)
                        for (int tap = 0; tap < g.KernelVolume; tap++)
                        {
                            int kz = tap / (g.KernelHeight * g.KernelWidth), ky = tap / g.KernelWidth % g.KernelHeight, kx = tap % g.KernelWidth;
                            int iz = z * g.StrideDepth - g.PadDepth + kz, iy = y * g.StrideHeight - g.PadHeight + ky, ix = x * g.StrideWidth - g.PadWidth + kx;
                            if ((uint)iz >= (uint)g.InDepth || (uint)iy >= (uint)g.InHeight || (uint)ix >= (uint)g.InWidth)
                                continue;
                            long inputAt = ((((long)n * g.InDepth + iz) * g.InHeight + iy) * g.InWidth + ix) * channels;
                            long outputAt = ((((long)n * g.OutDepth + z) * g.OutHeight + y) * g.OutWidth + x) * channels;
                            long targetAt = pass switch { Pass.Forward => outputAt, Pass.BackwardInput => inputAt, _ => (long)tap * channels };
                            float* t = target + targetAt, u = first + (pass == Pass.Forward ? inputAt : outputAt);
                            float* v = second + (pass == Pass.BackwardWeight ? inputAt : (long)tap * channels);
                            int c = 0;
                            for (; c + vector <= channels; c += vector)
                                Vector.Store(Vector.Load(t + c) + Vector.Load(u + c) * Vector.Load(v + c), t + c);
                            for (; c < channels; c++)
                                t[c] += u[c] * v[c];
                        }
    }

    /// <summary>Native, random-filled activations and weights of one benchmark, with their gradients.</summary>
    sealed class Buffers : IDisposable
    {
        public readonly float* X, Y, W, DX, DY, DW, Scratch;
        readonly List<nint> owned = [];

        public Buffers(long inputLength, long outputLength, long weightLength)
        {
            var random = new Random(1);
            float* Allocate(long length)
            {
                var data = (float*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(float)), 64);
                owned.Add((nint)data);
                for (long i = 0; i < length; i++)
                    data[i] = random.NextSingle() - 0.5f;
                return data;
            }
            X = Allocate(inputLength);
            DX = Allocate(inputLength);
            Y = Allocate(outputLength);
            DY = Allocate(outputLength);
            W = Allocate(weightLength);
            DW = Allocate(weightLength);
            Scratch = Allocate(weightLength);
        }

        public void Dispose() => owned.ForEach(pointer => NativeMemory.AlignedFree((void*)pointer));
    }
}
