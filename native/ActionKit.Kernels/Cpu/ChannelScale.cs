using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Per-clip, per-channel scaling (squeeze-excitation's gate) fused with the activation after it (X3D: Swish):
/// y[n, s, c] = act(x[n, s, c] · scale[n, c]), x [N, S, C] with S = D*H*W. Vectorized over channels, the last
/// vector masked.
/// </summary>
public static unsafe class ChannelScale
{
    const int RowsPerChunk = 256;

    /// <summary>y = act(x · scale), the scale broadcast over the S positions of each clip; parallel over fixed row chunks.</summary>
    public static void Forward(float* y, float* x, float* scale, int batch, long positions, int channels, Activation activation) =>
        Activations.Run(new Job(y, null, x, scale, null, batch, positions, channels), activation);

    /// <summary>
    /// g = act'(x · scale) · dy; dx = g · scale and dScale[n, c] = Σ_s g · x (both overwritten); one thread per clip,
    /// positions summed in order.
    /// </summary>
    public static void Backward(float* dx, float* dScale, float* dy, float* x, float* scale, int batch, long positions, int channels, Activation activation) =>
        Activations.Run(new Job(dx, dScale, x, scale, dy, batch, positions, channels), activation);

    /// <summary>
    /// The gate of a quantized graph: y = act(q(x) · scale) with q the per-tensor FakeQuantize grid of x
    /// (<paramref name="x"/> as floats given on it or not, the levels being the same, or as its codes), stored as floats,
    /// on y's own grid, or as its codes (<see cref="Int8Tensor"/>), one chunk of rows at a time while it is in cache: the
    /// FakeQuantize before the product and the one after the activation cost no passes of their own.
    /// </summary>
    public static void ForwardQuantized(in Int8Tensor y, in Int8Tensor x, float* scale, int batch, long positions, int channels, Activation activation)
    {
        if (!(x.Step > 0))
            throw new ArgumentException("ChannelScale: a quantized gate needs its input on a grid, as floats or codes.");
        var (target, source) = (y, x);
        const int rowsPerChunk = 64;
        long rows = batch * positions;
        bool wide = channels >= 16 && Requantize.Wide;
        CpuParallel.For(CpuParallel.ChunkCount(rows, rowsPerChunk), chunk =>
        {
            long start = (long)chunk * rowsPerChunk;
            int count = (int)Math.Min(rowsPerChunk, rows - start);
            if (wide)
            {
                GateRows512(target, source, scale, start, count, positions, channels, activation);
                return;
            }
            var output = target.At(start * channels);
            float* values = Requantize.Values(output, count * channels);
            var grid = new FakeQuantize.Grid(source.Step, source.Lowest, source.Highest);
            for (int r = 0; r < count; r++)
            {
                long at = (start + r) * channels;
                float* row = source.Values + at, gate = scale + (start + r) / positions * channels, value = values + (long)r * channels;
                byte* codes = source.Codes + at;
                int c = 0;
                // The last vector ends at the row's end, overlapping the one before it (no scalar divisions for 54 channels).
                if (Vector256.IsHardwareAccelerated && channels >= 8)
                {
                    for (int c0 = 0; c0 < channels; c0 += 8)
                    {
                        int o = Math.Min(c0, channels - 8);
                        var levels = source.IsCodes ? Simd256.LoadBytes(codes + o) - Vector256.Create((float)source.Shift) : FakeQuantize.Levels(Vector256.Load(row + o), grid);
                        (levels * grid.Step * Vector256.Load(gate + o)).Store(value + o);
                    }
                    c = channels;
                }
                for (; c < channels; c++)
                {
                    float level = source.IsCodes ? codes[c] - source.Shift : Math.Clamp(MathF.Round(row[c] / source.Step), source.Lowest, source.Highest);
                    value[c] = level * source.Step * gate[c];
                }
            }
            // Inside a chunk, the activation's own parallel loop runs on this thread.
            if (activation == Activation.Relu)
                Elementwise.Relu(values, values, (long)count * channels);
            else if (activation == Activation.Swish)
                Elementwise.Swish(values, values, (long)count * channels);
            Requantize.Finish(output, values, count * channels);
        });
    }

    // Rows of the quantized gate in one pass, 16 channels a vector (the last overlapping the one before it): the same
    // arithmetic as the chunked path at 16 lanes.
    static void GateRows512(in Int8Tensor y, in Int8Tensor x, float* scale, long start, int count, long positions, int channels, Activation activation)
    {
        if (y.IsCodes)
            GateRows512<CodesOut>(y, x, scale, start, count, positions, channels, activation);
        else if (y.Step > 0)
            GateRows512<GridOut>(y, x, scale, start, count, positions, channels, activation);
        else
            GateRows512<FloatsOut>(y, x, scale, start, count, positions, channels, activation);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void GateRows512<TForm>(in Int8Tensor y, in Int8Tensor x, float* scale, long start, int count, long positions, int channels, Activation activation)
        where TForm : struct, IOutputForm
    {
        var (input, output) = (new FakeQuantize.Grid512(x.Step, x.Lowest, x.Highest), new Output512(y));
        var shift = Vector512.Create((float)x.Shift);
        bool fromCodes = x.IsCodes;
        for (long r = start; r < start + count; r++)
        {
            float* row = x.Values + r * channels, gate = scale + r / positions * channels;
            byte* codes = x.Codes + r * channels;
            for (int c0 = 0; c0 < channels; c0 += 16)
            {
                int c = Math.Min(c0, channels - 16);
                var levels = fromCodes ? Simd512.LoadBytes(codes + c) - shift : FakeQuantize.Levels(Vector512.Load(row + c), input);
                var value = levels * input.Step * Vector512.Load(gate + c);
                Requantize.Store16<TForm>(output, r * channels + c, Requantize.Activate(value, activation));
            }
        }
    }

    readonly struct Job(float* output, float* dScale, float* x, float* scale, float* dy, int batch, long positions, int channels) : IActivationKernel
    {
        public void Run<TActivation, TSimd, TVector>()
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            if (dy == null)
            {
                long rows = batch * positions;
                CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk),
                    chunk => job.Rows<TActivation, TSimd, TVector, Off>((long)chunk * RowsPerChunk, Math.Min(rows, (chunk + 1L) * RowsPerChunk)));
            }
            else
                CpuParallel.For(batch, job.BackwardClip<TActivation, TSimd, TVector>);
        }

        void BackwardClip<TActivation, TSimd, TVector>(int n)
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            new Span<float>(dScale + (long)n * channels, channels).Clear();
            Rows<TActivation, TSimd, TVector, On>(n * positions, (n + 1) * positions);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Rows<TActivation, TSimd, TVector, TGradient>(long start, long end)
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct where TGradient : struct, IFlag
        {
            for (long r = start; r < end; r++)
            {
                long clip = r / positions * channels;
                for (int c = 0; c < channels; c += TSimd.Width)
                {
                    int count = Math.Min(TSimd.Width, channels - c);
                    long o = r * channels + c;
                    TVector xv = TSimd.LoadFirst(x + o, count), s = TSimd.LoadFirst(scale + clip + c, count), v = TSimd.Multiply(xv, s);
                    if (!TGradient.IsOn)
                    {
                        TSimd.StoreFirst(output + o, TActivation.Forward<TSimd, TVector>(v), count);
                        continue;
                    }
                    TVector g = TActivation.Backward<TSimd, TVector>(TSimd.LoadFirst(dy + o, count), v);
                    TSimd.StoreFirst(output + o, TSimd.Multiply(g, s), count);
                    float* sum = dScale + clip + c;
                    TSimd.StoreFirst(sum, TSimd.MultiplyAdd(g, xv, TSimd.LoadFirst(sum, count)), count);
                }
            }
        }
    }
}
