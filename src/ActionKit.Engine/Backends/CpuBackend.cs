using System.Runtime.InteropServices;
using ActionKit.Kernels;
using ActionKit.Kernels.Cpu;

namespace ActionKit.Engine;

/// <summary>The CPU backend: 64-byte aligned native memory and the SIMD kernels of ActionKit.Kernels.Cpu.</summary>
public sealed unsafe class CpuBackend : IBackend
{
    public string Name => "cpu";

    public Tensor Allocate(params int[] shape) => Allocate(DType.Float32, shape);

    public Tensor Allocate(DType type, params int[] shape)
    {
        var memory = new CpuMemory(type, Tensor.ElementCount(shape));
        return new Tensor(this, memory, 0, (int[])shape.Clone(), ownsMemory: true);
    }

    // The tensor's first byte.
    byte* Address(Tensor t) => t.Backend == this && t.Memory is CpuMemory memory
        ? (byte*)memory.Pointer + t.Offset * t.DType.Size()
        : throw new ArgumentException($"{t} does not live on this CPU backend.");

    // The tensor's first element; float32 unless another type is asked for.
    T* P<T>(Tensor t) where T : unmanaged
    {
        t.Require(DTypes.Of<T>(), "cpu");
        return (T*)Address(t);
    }

    float* P(Tensor t) => P<float>(t);

    static void SameLength(Tensor a, Tensor b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"Shapes differ: {Tensor.Describe(a.Shape)} vs {Tensor.Describe(b.Shape)}.");
    }

    public void Upload<T>(Tensor destination, ReadOnlySpan<T> source) where T : unmanaged =>
        source.CopyTo(new Span<T>(P<T>(destination), checked((int)destination.Length)));

    public void Download<T>(Tensor source, Span<T> destination) where T : unmanaged =>
        new ReadOnlySpan<T>(P<T>(source), checked((int)source.Length)).CopyTo(destination);

    /// <summary>Nothing to wait for: every CPU kernel has finished when its call returns.</summary>
    public void Synchronize()
    {
    }

    public void Fill(Tensor tensor, float value) => Elementwise.Fill(P(tensor), value, tensor.Length);

    public void Copy(Tensor destination, Tensor source)
    {
        SameLength(destination, source);
        destination.Require(source.DType);
        long bytes = source.Length * source.DType.Size();
        Buffer.MemoryCopy(Address(source), Address(destination), bytes, bytes);
    }

    public void MatMul(Tensor c, Tensor a, Tensor b, int m, int n, int k, bool transposeA, bool transposeB, bool accumulate)
    {
        if (a.Length != (long)m * k || b.Length != (long)k * n || c.Length != (long)m * n)
            throw new ArgumentException($"MatMul sizes m={m} n={n} k={k} do not match {a}, {b}, {c}.");
        Gemm.Multiply(P(c), P(a), P(b), m, n, k, transposeA, transposeB, accumulate);
    }

    public void Conv3dForward(Tensor output, Tensor input, Tensor weight, ConvGeometry geometry) =>
        Kernels.Cpu.Conv3d.Forward(P(output), P(input), P(weight), geometry);

    public void Conv3dBackwardInput(Tensor dInput, Tensor dOutput, Tensor weight, ConvGeometry geometry) =>
        Kernels.Cpu.Conv3d.BackwardInput(P(dInput), P(dOutput), P(weight), geometry);

    public void Conv3dBackwardWeight(Tensor dWeight, Tensor dOutput, Tensor input, ConvGeometry geometry) =>
        Kernels.Cpu.Conv3d.BackwardWeight(P(dWeight), P(dOutput), P(input), geometry);

    public void DepthwiseConv3dForward(Tensor output, Tensor input, Tensor weight, ConvGeometry geometry) =>
        Kernels.Cpu.DepthwiseConv3d.Forward(P(output), P(input), P(weight), geometry);

    public void DepthwiseConv3dBackwardInput(Tensor dInput, Tensor dOutput, Tensor weight, ConvGeometry geometry) =>
        Kernels.Cpu.DepthwiseConv3d.BackwardInput(P(dInput), P(dOutput), P(weight), geometry);

    public void DepthwiseConv3dBackwardWeight(Tensor dWeight, Tensor dOutput, Tensor input, ConvGeometry geometry) =>
        Kernels.Cpu.DepthwiseConv3d.BackwardWeight(P(dWeight), P(dOutput), P(input), geometry);

    public void LinearWeightGradient(Tensor dWeight, Tensor dy, Tensor x, int outFeatures, int inFeatures)
    {
        int rows = checked((int)(x.Length / inFeatures));
        if (dWeight.Length != (long)outFeatures * inFeatures || x.Length != (long)rows * inFeatures || dy.Length != (long)rows * outFeatures)
            throw new ArgumentException($"LinearWeightGradient sizes out={outFeatures} in={inFeatures} do not match {dWeight}, {dy}, {x}.");
        Gemm.MultiplyTransposedAByClip(P(dWeight), P(dy), P(x), outFeatures, inFeatures, rows, x.Dim(0));
    }

    public void BatchNormForwardTraining(Tensor y, Tensor mean, Tensor invStd, Tensor runningMean, Tensor runningVar,
        Tensor x, Tensor gamma, Tensor beta, float momentum, float epsilon, Activation activation, Layers.BatchStatisticsReducer? replicas = null)
    {
        SameLength(y, x);
        Kernels.Cpu.BatchNorm.ForwardTraining(P(y), P(mean), P(invStd), P(runningMean), P(runningVar), P(x), P(gamma), P(beta),
            x.Length / gamma.Length, x.Dim(0), (int)gamma.Length, momentum, epsilon, activation, replicas is null ? null : sums => replicas(sums));
    }

    public void BatchNormForwardInference(Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
        float epsilon, Activation activation)
    {
        SameLength(y, x);
        Kernels.Cpu.BatchNorm.ForwardInference(P(y), P(x), P(gamma), P(beta), P(runningMean), P(runningVar),
            x.Length / gamma.Length, (int)gamma.Length, epsilon, activation);
    }

    public void BatchNormBackward(Tensor dx, Tensor dGamma, Tensor dBeta, Tensor dy, Tensor x, Tensor gamma, Tensor beta,
        Tensor mean, Tensor invStd, Activation activation, Layers.BatchStatisticsReducer? replicas = null)
    {
        SameLength(dx, x);
        SameLength(dy, x);
        Kernels.Cpu.BatchNorm.Backward(P(dx), P(dGamma), P(dBeta), P(dy), P(x), P(gamma), P(beta), P(mean), P(invStd),
            x.Length / gamma.Length, x.Dim(0), (int)gamma.Length, activation, replicas is null ? null : sums => replicas(sums));
    }

    public void Relu(Tensor y, Tensor x) { SameLength(y, x); Elementwise.Relu(P(y), P(x), x.Length); }
    public void ReluBackward(Tensor dx, Tensor dy, Tensor y) { SameLength(dx, y); Elementwise.ReluBackward(P(dx), P(dy), P(y), y.Length); }
    public void Sigmoid(Tensor y, Tensor x) { SameLength(y, x); Elementwise.Sigmoid(P(y), P(x), x.Length); }
    public void SigmoidBackward(Tensor dx, Tensor dy, Tensor y) { SameLength(dx, y); Elementwise.SigmoidBackward(P(dx), P(dy), P(y), y.Length); }

    public void Add(Tensor y, Tensor a, Tensor b, bool relu)
    {
        SameLength(a, b);
        SameLength(y, a);
        Elementwise.Add(P(y), P(a), P(b), y.Length, relu);
    }

    public void AddInPlace(Tensor y, Tensor x) { SameLength(y, x); Elementwise.AddInPlace(P(y), P(x), y.Length); }
    public void Scale(Tensor x, float factor) => Elementwise.Scale(P(x), factor, x.Length);

    public void BiasForward(Tensor y, Tensor bias) => Bias.Forward(P(y), P(bias), y.Length / bias.Length, (int)bias.Length);
    public void BiasBackward(Tensor dBias, Tensor dy) => Bias.Backward(P(dBias), P(dy), dy.Length / dBias.Length, (int)dBias.Length, dy.Dim(0));

    public void ChannelScaleForward(Tensor y, Tensor x, Tensor scale, Activation activation)
    {
        var (batch, positions, channels) = ClipPositions(x);
        ChannelScale.Forward(P(y), P(x), P(scale), batch, positions, channels, activation);
    }

    public void ChannelScaleBackward(Tensor dx, Tensor dScale, Tensor dy, Tensor x, Tensor scale, Activation activation)
    {
        var (batch, positions, channels) = ClipPositions(x);
        ChannelScale.Backward(P(dx), P(dScale), P(dy), P(x), P(scale), batch, positions, channels, activation);
    }

    public void GlobalAveragePoolForward(Tensor y, Tensor x)
    {
        var (batch, positions, channels) = ClipPositions(x);
        GlobalAveragePool.Forward(P(y), P(x), batch, positions, channels);
    }

    public void GlobalAveragePoolBackward(Tensor dx, Tensor dy, bool accumulate)
    {
        var (batch, positions, channels) = ClipPositions(dx);
        GlobalAveragePool.Backward(P(dx), P(dy), batch, positions, channels, accumulate);
    }

    // [N, ..., C] seen as N clips of S positions of C channels.
    static (int Batch, long Positions, int Channels) ClipPositions(Tensor x) =>
        (x.Dim(0), x.Length / x.Dim(0) / x.Dim(-1), x.Dim(-1));

    public void SubsampleForward(Tensor y, Tensor x, int stride) =>
        Subsample.Forward(P(y), P(x), x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3), x.Dim(4), stride);

    public void SubsampleBackward(Tensor dx, Tensor dy, int stride) =>
        Subsample.Backward(P(dx), P(dy), dx.Dim(0), dx.Dim(1), dx.Dim(2), dx.Dim(3), dx.Dim(4), stride);

    public void DropoutForward(Tensor y, Tensor mask, Tensor x, float probability, ulong seed) =>
        Kernels.Cpu.Dropout.Forward(P(y), P(mask), P(x), x.Length, probability, seed);

    public void DropoutBackward(Tensor dx, Tensor dy, Tensor mask) =>
        Kernels.Cpu.Dropout.Backward(P(dx), P(dy), P(mask), dx.Length);

    public void CrossEntropyForward(Tensor meanLoss, Tensor losses, Tensor probabilities, Tensor logits, Tensor labels, float smoothing)
    {
        var (batch, classes) = CrossEntropySizes(logits, labels);
        *P(meanLoss) = (float)CrossEntropy.Forward(P(losses), P(probabilities), P(logits), P<int>(labels), batch, classes, smoothing);
    }

    public void CrossEntropyBackward(Tensor dLogits, Tensor probabilities, Tensor labels, float smoothing)
    {
        var (batch, classes) = CrossEntropySizes(dLogits, labels);
        CrossEntropy.Backward(P(dLogits), P(probabilities), P<int>(labels), batch, classes, smoothing);
    }

    static (int Batch, int Classes) CrossEntropySizes(Tensor logits, Tensor labels) =>
        logits.Rank == 2 && labels.Length == logits.Dim(0)
            ? (logits.Dim(0), logits.Dim(1))
            : throw new ArgumentException($"Cross-entropy needs logits [N, K] and N labels, got {logits} and {labels}.");

    public void SgdStep(Tensor parameters, Tensor gradients, Tensor momentumBuffer, float learningRate, float momentum, float weightDecay) =>
        Optimizers.Sgd(P(parameters), P(gradients), P(momentumBuffer), parameters.Length, learningRate, momentum, weightDecay);

    public void AdamWStep(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment,
        float learningRate, float beta1, float beta2, float epsilon, float weightDecay, long step) =>
        Optimizers.AdamW(P(parameters), P(gradients), P(firstMoment), P(secondMoment), parameters.Length,
            learningRate, beta1, beta2, epsilon, weightDecay, step);

    public void SumOfSquares(Tensor sum, Tensor x) => *P(sum) = (float)Elementwise.SumOfSquares(P(x), x.Length);

    public void ClipByNorm(Tensor x, Tensor sumOfSquares, float maxNorm)
    {
        double norm = Math.Sqrt(*P(sumOfSquares));
        if (norm > maxNorm)
            Elementwise.Scale(P(x), (float)(maxNorm / (norm + 1e-6)), x.Length);
    }

    public void Dispose()
    {
    }

    /// <summary>Zero-filled, 64-byte aligned native memory.</summary>
    sealed class CpuMemory : DeviceMemory
    {
        public CpuMemory(DType type, long length) : base(type, length)
        {
            nuint bytes = (nuint)Math.Max(Bytes, 1);
            Pointer = NativeMemory.AlignedAlloc(bytes, 64);
            NativeMemory.Clear(Pointer, bytes);
            GC.AddMemoryPressure((long)bytes);
        }

        ~CpuMemory() => Free();

        public void* Pointer { get; private set; }

        public override void Dispose()
        {
            Free();
            GC.SuppressFinalize(this);
        }

        void Free()
        {
            if (Pointer == null)
                return;
            NativeMemory.AlignedFree(Pointer);
            Pointer = null;
            GC.RemoveMemoryPressure(Math.Max(Bytes, 1));
        }
    }
}
