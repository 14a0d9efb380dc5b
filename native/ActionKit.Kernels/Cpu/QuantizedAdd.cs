using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// The residual join of a quantized graph: y = act(a + b) for two values on their FakeQuantize grids (floats on the
/// grid or codes, <see cref="Int8Tensor"/>), stored as floats, on y's own grid or as its codes. A code stands for
/// level · step, the float its FakeQuantize gives, so the sum is the one the FakeQuantize executor computes, value
/// for value, at a quarter of its memory traffic when all three travel as codes.
/// </summary>
public static unsafe class QuantizedAdd
{
    const int ValuesPerChunk = 4096;

    /// <summary>y [count] = act(a + b), act None or ReLU.</summary>
    public static void Forward(in Int8Tensor y, in Int8Tensor a, in Int8Tensor b, long count, Activation activation)
    {
        if (activation == Activation.Swish || !(a.Step > 0) || !(b.Step > 0))
            throw new ArgumentException("QuantizedAdd: needs both inputs on a grid, and no activation or ReLU.");
        var (target, left, right) = (y, a, b);
        CpuParallel.For(CpuParallel.ChunkCount(count, ValuesPerChunk), chunk =>
        {
            long start = (long)chunk * ValuesPerChunk;
            int length = (int)Math.Min(ValuesPerChunk, count - start);
            if (length >= 16 && Requantize.Wide)
            {
                Sum512(target.At(start), left.At(start), right.At(start), length, activation == Activation.Relu);
                return;
            }
            var output = target.At(start);
            float* values = Requantize.Values(output, length);
            Sum(values, left.At(start), right.At(start), length, activation == Activation.Relu);
            Requantize.Finish(output, values, length);
        });
    }

    static void Sum(float* values, in Int8Tensor a, in Int8Tensor b, int length, bool relu)
    {
        int i = 0;
        if (Avx2.IsSupported)
            for (; i + 8 <= length; i += 8)
            {
                var sum = Load(a, i) + Load(b, i);
                (relu ? Vector256.MaxNative(sum, Vector256<float>.Zero) : sum).Store(values + i);
            }
        for (; i < length; i++)
        {
            float sum = Value(a, i) + Value(b, i);
            values[i] = relu ? MathF.Max(sum, 0f) : sum;
        }
    }

    // One pass, 16 values a vector (the last overlapping the one before it), stored straight into y: the same
    // arithmetic as the 8-wide path.
    static void Sum512(in Int8Tensor y, in Int8Tensor a, in Int8Tensor b, int length, bool relu)
    {
        if (y.IsCodes)
            Sum512<CodesOut>(y, a, b, length, relu);
        else if (y.Step > 0)
            Sum512<GridOut>(y, a, b, length, relu);
        else
            Sum512<FloatsOut>(y, a, b, length, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Sum512<TForm>(in Int8Tensor y, in Int8Tensor a, in Int8Tensor b, int length, bool relu) where TForm : struct, IOutputForm
    {
        var output = new Output512(y);
        for (int i0 = 0; i0 < length; i0 += 16)
        {
            int i = Math.Min(i0, length - 16);
            var sum = Load16(a, i) + Load16(b, i);
            Requantize.Store16<TForm>(output, i, relu ? Vector512.MaxNative(sum, Vector512<float>.Zero) : sum);
        }
    }

    static Vector512<float> Load16(in Int8Tensor x, int i) => x.IsCodes
        ? Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(Vector128.Load(x.Codes + i)) - Vector512.Create(x.Shift)) * x.Step
        : Vector512.Load(x.Values + i);

    // Eight values as floats on the grid: level · step for codes.
    static Vector256<float> Load(in Int8Tensor x, int i) => x.IsCodes
        ? Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(x.Codes + i) - Vector256.Create(x.Shift)) * x.Step
        : Vector256.Load(x.Values + i);

    static float Value(in Int8Tensor x, int i) => x.IsCodes ? (x.Codes[i] - x.Shift) * x.Step : x.Values[i];
}
