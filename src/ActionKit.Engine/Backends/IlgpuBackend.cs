using ActionKit.Kernels;
using ActionKit.Kernels.Gpu;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace ActionKit.Engine;

/// <summary>
/// The GPU backend: device memory of an ILGPU accelerator and the kernels of ActionKit.Kernels.Gpu. Operations are
/// queued in order on the accelerator's stream and return at once; tensors stay on the device, and the host waits
/// only in <see cref="Download{T}"/> and <see cref="Synchronize"/>. In production the accelerator is a CUDA GPU
/// (<see cref="TryCuda"/>); tests run the same kernels on ILGPU's CPU accelerator (<see cref="Simulator"/>).
/// A device failure becomes a <see cref="DeviceException"/> naming the operation and its tensors' shapes.
/// </summary>
public sealed class IlgpuBackend : IBackend
{
    readonly Context context;
    readonly Accelerator accelerator;
    readonly GpuKernels kernels;

    IlgpuBackend(Context context, Accelerator accelerator, string name)
    {
        this.context = context;
        this.accelerator = accelerator;
        kernels = new GpuKernels(accelerator);
        Name = name;
    }

    /// <summary>"cuda:0 (NVIDIA H200, 140 GB)" or "ilgpu-cpu": the device, as the CLI reports it.</summary>
    public string Name { get; }

    /// <summary>The kernels on ILGPU's CPU accelerator: slow, for tests at tiny shapes without a GPU.</summary>
    public static IlgpuBackend Simulator()
    {
        var context = GpuKernels.CreateContext(builder => builder.CPU(GpuKernels.SimulatorDevice));
        return new IlgpuBackend(context, context.CreateCPUAccelerator(0), "ilgpu-cpu");
    }

    /// <summary>
    /// The backend on NVIDIA GPU <paramref name="ordinal"/> (modulo the GPUs ILGPU finds), or null with the reason
    /// (no driver, no device) when there is none.
    /// </summary>
    public static IlgpuBackend? TryCuda(out string reason, int ordinal = 0)
    {
        Context? context = null;
        try
        {
            context = GpuKernels.CreateContext(builder => builder.Cuda());
            var devices = context.GetCudaDevices();
            if (devices.Count == 0)
            {
                context.Dispose();
                reason = "ILGPU found no NVIDIA GPU (no CUDA driver, or no device visible)";
                return null;
            }
            int index = ordinal % devices.Count;
            var device = devices[index];
            reason = "";
            return new IlgpuBackend(context, device.CreateCudaAccelerator(context),
                $"cuda:{index} ({device.Name}, {device.MemorySize / 1e9:F0} GB)");
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            context?.Dispose();
            reason = $"the CUDA driver could not be used: {error.Message}";
            return null;
        }
    }

    public Tensor Allocate(params int[] shape) => Allocate(DType.Float32, shape);

    public Tensor Allocate(DType type, params int[] shape)
    {
        long length = Tensor.ElementCount(shape);
        try
        {
            return new Tensor(this, new DeviceBuffer(accelerator, type, length), 0, (int[])shape.Clone(), ownsMemory: true);
        }
        catch (Exception error) when (IsDeviceFailure(error))
        {
            throw Failure(nameof(Allocate), error, $"{type} {Tensor.Describe(shape)} ({length * type.Size() / 1e6:F1} MB)");
        }
    }

    public void Upload<T>(Tensor destination, ReadOnlySpan<T> source) where T : unmanaged
    {
        var view = View<T>(destination);
        try
        {
            view.CopyFromCPU(kernels.Stream, source);
        }
        catch (Exception error) when (IsDeviceFailure(error))
        {
            throw Failure(nameof(Upload), error, Tensor.Describe(destination.Shape));
        }
    }

    public void Download<T>(Tensor source, Span<T> destination) where T : unmanaged
    {
        var view = View<T>(source);
        try
        {
            kernels.Synchronize();
            view.CopyToCPU(kernels.Stream, destination);
        }
        catch (Exception error) when (IsDeviceFailure(error))
        {
            throw Failure(nameof(Download), error, Tensor.Describe(source.Shape));
        }
    }

    public void Synchronize() => Run(nameof(Synchronize), kernels.Synchronize, "the operations queued before it");

    public void Fill(Tensor tensor, float value) => Run(nameof(Fill), () => Elementwise.Fill(kernels, F(tensor), value, tensor.Length), tensor);

    public void Copy(Tensor destination, Tensor source)
    {
        if (destination.Length != source.Length)
            throw new ArgumentException($"Copy: shapes differ: {destination} vs {source}.");
        destination.Require(source.DType);
        Run(nameof(Copy), () => Bytes(source).CopyTo(kernels.Stream, Bytes(destination)), destination, source);
    }

    public void MatMul(Tensor c, Tensor a, Tensor b, int m, int n, int k, bool transposeA, bool transposeB, bool accumulate)
    {
        if (a.Length != (long)m * k || b.Length != (long)k * n || c.Length != (long)m * n)
            throw new ArgumentException($"MatMul sizes m={m} n={n} k={k} do not match {a}, {b}, {c}.");
        Run(nameof(MatMul), () => Gemm.Multiply(kernels, F(c), F(a), F(b), m, n, k, transposeA, transposeB, accumulate), $"m={m} n={n} k={k}", c, a, b);
    }

    public void Conv3dForward(Tensor output, Tensor input, Tensor weight, ConvGeometry geometry) =>
        Run(nameof(Conv3dForward), () => Kernels.Gpu.Conv3d.Forward(kernels, F(output), F(input), F(weight), geometry), geometry, output, input, weight);

    public void Conv3dBackwardInput(Tensor dInput, Tensor dOutput, Tensor weight, ConvGeometry geometry) =>
        Run(nameof(Conv3dBackwardInput), () => Kernels.Gpu.Conv3d.BackwardInput(kernels, F(dInput), F(dOutput), F(weight), geometry), geometry, dInput, dOutput, weight);

    public void Conv3dBackwardWeight(Tensor dWeight, Tensor dOutput, Tensor input, ConvGeometry geometry) =>
        Run(nameof(Conv3dBackwardWeight), () => Kernels.Gpu.Conv3d.BackwardWeight(kernels, F(dWeight), F(dOutput), F(input), geometry), geometry, dWeight, dOutput, input);

    public void DepthwiseConv3dForward(Tensor output, Tensor input, Tensor weight, ConvGeometry geometry) =>
        Run(nameof(DepthwiseConv3dForward), () => Kernels.Gpu.DepthwiseConv3d.Forward(kernels, F(output), F(input), F(weight), geometry), geometry, output, input, weight);

    public void DepthwiseConv3dBackwardInput(Tensor dInput, Tensor dOutput, Tensor weight, ConvGeometry geometry) =>
        Run(nameof(DepthwiseConv3dBackwardInput), () => Kernels.Gpu.DepthwiseConv3d.BackwardInput(kernels, F(dInput), F(dOutput), F(weight), geometry), geometry, dInput, dOutput, weight);

    public void DepthwiseConv3dBackwardWeight(Tensor dWeight, Tensor dOutput, Tensor input, ConvGeometry geometry) =>
        Run(nameof(DepthwiseConv3dBackwardWeight), () => Kernels.Gpu.DepthwiseConv3d.BackwardWeight(kernels, F(dWeight), F(dOutput), F(input), geometry), geometry, dWeight, dOutput, input);

    // One GEMM over all rows: the GPU does not promise the CPU's clip-tree order (GPU ranks are not built).
    public void LinearWeightGradient(Tensor dWeight, Tensor dy, Tensor x, int outFeatures, int inFeatures) =>
        MatMul(dWeight, dy, x, outFeatures, inFeatures, checked((int)(x.Length / inFeatures)), transposeA: true, transposeB: false, accumulate: true);

    public void BatchNormForwardTraining(Tensor y, Tensor mean, Tensor invStd, Tensor runningMean, Tensor runningVar,
        Tensor x, Tensor gamma, Tensor beta, float momentum, float epsilon, Activation activation, Layers.BatchStatisticsReducer? replicas = null)
    {
        if (replicas is not null)
        {
            StagedBatchNormForward(y, mean, invStd, runningMean, runningVar, x, gamma, beta, momentum, epsilon, activation, replicas);
            return;
        }
        Run(nameof(BatchNormForwardTraining), () => Kernels.Gpu.BatchNorm.ForwardTraining(kernels, F(y), F(mean), F(invStd), F(runningMean), F(runningVar),
            F(x), F(gamma), F(beta), Rows(x, gamma), (int)gamma.Length, momentum, epsilon, activation), y, x);
    }

    public void BatchNormForwardInference(Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
        float epsilon, Activation activation) =>
        Run(nameof(BatchNormForwardInference), () => Kernels.Gpu.BatchNorm.ForwardInference(kernels, F(y), F(x), F(gamma), F(beta), F(runningMean), F(runningVar),
            Rows(x, gamma), (int)gamma.Length, epsilon, activation), y, x);

    public void BatchNormBackward(Tensor dx, Tensor dGamma, Tensor dBeta, Tensor dy, Tensor x, Tensor gamma, Tensor beta,
        Tensor mean, Tensor invStd, Activation activation, Layers.BatchStatisticsReducer? replicas = null)
    {
        if (replicas is not null)
        {
            StagedBatchNormBackward(dx, dGamma, dBeta, dy, x, gamma, beta, mean, invStd, activation, replicas);
            return;
        }
        Run(nameof(BatchNormBackward), () => Kernels.Gpu.BatchNorm.Backward(kernels, F(dx), F(dGamma), F(dBeta), F(dy), F(x), F(gamma), F(beta), F(mean), F(invStd),
            Rows(x, gamma), (int)gamma.Length, activation), dx, dy, x);
    }

    // sync_bn over data-parallel ranks, staged through host memory for now: the tensors come down, the CPU kernel
    // sums them in its clip tree and adds the other ranks' sums, and the results go back up. Each rank is one GPU; a
    // device kernel that exchanges only the per-channel sums (as NCCL-based SyncBatchNorm does) is the next step.
    static void StagedBatchNormForward(Tensor y, Tensor mean, Tensor invStd, Tensor runningMean, Tensor runningVar,
        Tensor x, Tensor gamma, Tensor beta, float momentum, float epsilon, Activation activation, Layers.BatchStatisticsReducer replicas)
    {
        float[] hostY = new float[y.Length], hostMean = new float[mean.Length], hostInvStd = new float[invStd.Length];
        float[] hostRunningMean = runningMean.ToArray(), hostRunningVar = runningVar.ToArray(), hostX = x.ToArray();
        float[] hostGamma = gamma.ToArray(), hostBeta = beta.ToArray();
        unsafe
        {
            fixed (float* py = hostY, pm = hostMean, ps = hostInvStd, prm = hostRunningMean, prv = hostRunningVar, px = hostX, pg = hostGamma, pb = hostBeta)
                Kernels.Cpu.BatchNorm.ForwardTraining(py, pm, ps, prm, prv, px, pg, pb, x.Length / gamma.Length, x.Dim(0), (int)gamma.Length,
                    momentum, epsilon, activation, sums => replicas(sums));
        }
        y.CopyFrom(hostY);
        mean.CopyFrom(hostMean);
        invStd.CopyFrom(hostInvStd);
        runningMean.CopyFrom(hostRunningMean);
        runningVar.CopyFrom(hostRunningVar);
    }

    static void StagedBatchNormBackward(Tensor dx, Tensor dGamma, Tensor dBeta, Tensor dy, Tensor x, Tensor gamma, Tensor beta,
        Tensor mean, Tensor invStd, Activation activation, Layers.BatchStatisticsReducer replicas)
    {
        float[] hostDx = new float[dx.Length], hostDGamma = dGamma.ToArray(), hostDBeta = dBeta.ToArray(), hostDy = dy.ToArray();
        float[] hostX = x.ToArray(), hostGamma = gamma.ToArray(), hostBeta = beta.ToArray(), hostMean = mean.ToArray(), hostInvStd = invStd.ToArray();
        unsafe
        {
            fixed (float* pdx = hostDx, pdg = hostDGamma, pdb = hostDBeta, pdy = hostDy, px = hostX, pg = hostGamma, pb = hostBeta, pm = hostMean, ps = hostInvStd)
                Kernels.Cpu.BatchNorm.Backward(pdx, pdg, pdb, pdy, px, pg, pb, pm, ps, x.Length / gamma.Length, x.Dim(0), (int)gamma.Length,
                    activation, sums => replicas(sums));
        }
        dx.CopyFrom(hostDx);
        dGamma.CopyFrom(hostDGamma);
        dBeta.CopyFrom(hostDBeta);
    }

    public void Relu(Tensor y, Tensor x) => Elementwise2(nameof(Relu), y, x, Elementwise.Relu);
    public void ReluBackward(Tensor dx, Tensor dy, Tensor y) => Elementwise3(nameof(ReluBackward), dx, dy, y, Elementwise.ReluBackward);
    public void Sigmoid(Tensor y, Tensor x) => Elementwise2(nameof(Sigmoid), y, x, Elementwise.Sigmoid);
    public void SigmoidBackward(Tensor dx, Tensor dy, Tensor y) => Elementwise3(nameof(SigmoidBackward), dx, dy, y, Elementwise.SigmoidBackward);

    public void Add(Tensor y, Tensor a, Tensor b, bool relu) =>
        Elementwise3(nameof(Add), y, a, b, (gpu, vy, va, vb, count) => Elementwise.Add(gpu, vy, va, vb, count, relu));

    public void AddInPlace(Tensor y, Tensor x) => Elementwise2(nameof(AddInPlace), y, x, Elementwise.AddInPlace);

    public void Scale(Tensor x, float factor) => Run(nameof(Scale), () => Elementwise.Scale(kernels, F(x), factor, x.Length), x);

    public void BiasForward(Tensor y, Tensor bias) =>
        Run(nameof(BiasForward), () => Kernels.Gpu.Bias.Forward(kernels, F(y), F(bias), y.Length / bias.Length, (int)bias.Length), y, bias);

    public void BiasBackward(Tensor dBias, Tensor dy) =>
        Run(nameof(BiasBackward), () => Kernels.Gpu.Bias.Backward(kernels, F(dBias), F(dy), dy.Length / dBias.Length, (int)dBias.Length), dBias, dy);

    public void ChannelScaleForward(Tensor y, Tensor x, Tensor scale, Activation activation)
    {
        var (batch, positions, channels) = ClipPositions(x);
        Run(nameof(ChannelScaleForward), () => ChannelScale.Forward(kernels, F(y), F(x), F(scale), batch, positions, channels, activation), y, x, scale);
    }

    public void ChannelScaleBackward(Tensor dx, Tensor dScale, Tensor dy, Tensor x, Tensor scale, Activation activation)
    {
        var (batch, positions, channels) = ClipPositions(x);
        Run(nameof(ChannelScaleBackward), () => ChannelScale.Backward(kernels, F(dx), F(dScale), F(dy), F(x), F(scale), batch, positions, channels, activation), dx, dScale, x);
    }

    public void GlobalAveragePoolForward(Tensor y, Tensor x)
    {
        var (batch, positions, channels) = ClipPositions(x);
        Run(nameof(GlobalAveragePoolForward), () => Kernels.Gpu.GlobalAveragePool.Forward(kernels, F(y), F(x), batch, positions, channels), y, x);
    }

    public void GlobalAveragePoolBackward(Tensor dx, Tensor dy, bool accumulate)
    {
        var (batch, positions, channels) = ClipPositions(dx);
        Run(nameof(GlobalAveragePoolBackward), () => Kernels.Gpu.GlobalAveragePool.Backward(kernels, F(dx), F(dy), batch, positions, channels, accumulate), dx, dy);
    }

    // [N, ..., C] seen as N clips of S positions of C channels.
    static (int Batch, long Positions, int Channels) ClipPositions(Tensor x) =>
        (x.Dim(0), x.Length / x.Dim(0) / x.Dim(-1), x.Dim(-1));

    static long Rows(Tensor x, Tensor gamma) => x.Length / gamma.Length;

    public void SubsampleForward(Tensor y, Tensor x, int stride) =>
        Run(nameof(SubsampleForward), () => Subsample.Forward(kernels, F(y), F(x), x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3), x.Dim(4), stride), y, x);

    public void SubsampleBackward(Tensor dx, Tensor dy, int stride) =>
        Run(nameof(SubsampleBackward), () => Subsample.Backward(kernels, F(dx), F(dy), dx.Dim(0), dx.Dim(1), dx.Dim(2), dx.Dim(3), dx.Dim(4), stride), dx, dy);

    public void DropoutForward(Tensor y, Tensor mask, Tensor x, float probability, ulong seed) =>
        Run(nameof(DropoutForward), () => Kernels.Gpu.Dropout.Forward(kernels, F(y), F(mask), F(x), x.Length, probability, seed), y, x);

    public void DropoutBackward(Tensor dx, Tensor dy, Tensor mask) =>
        Run(nameof(DropoutBackward), () => Kernels.Gpu.Dropout.Backward(kernels, F(dx), F(dy), F(mask), dx.Length), dx, dy);

    public void CrossEntropyForward(Tensor meanLoss, Tensor losses, Tensor probabilities, Tensor logits, Tensor labels, float smoothing)
    {
        RequireLabels(logits, labels);
        Run(nameof(CrossEntropyForward), () => CrossEntropy.Forward(kernels, F(meanLoss), F(losses), F(probabilities), F(logits), View<int>(labels),
            logits.Dim(0), logits.Dim(1), smoothing), logits, labels);
    }

    public void CrossEntropyBackward(Tensor dLogits, Tensor probabilities, Tensor labels, float smoothing)
    {
        RequireLabels(dLogits, labels);
        Run(nameof(CrossEntropyBackward), () => CrossEntropy.Backward(kernels, F(dLogits), F(probabilities), View<int>(labels),
            dLogits.Dim(0), dLogits.Dim(1), smoothing), dLogits, labels);
    }

    static void RequireLabels(Tensor logits, Tensor labels)
    {
        if (logits.Rank != 2 || labels.Length != logits.Dim(0))
            throw new ArgumentException($"Cross-entropy needs logits [N, K] and N labels, got {logits} and {labels}.");
    }

    public void SgdStep(Tensor parameters, Tensor gradients, Tensor momentumBuffer, float learningRate, float momentum, float weightDecay) =>
        Run(nameof(SgdStep), () => Kernels.Gpu.Optimizers.Sgd(kernels, F(parameters), F(gradients), F(momentumBuffer), parameters.Length,
            learningRate, momentum, weightDecay), parameters);

    public void AdamWStep(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment,
        float learningRate, float beta1, float beta2, float epsilon, float weightDecay, long step) =>
        Run(nameof(AdamWStep), () => Kernels.Gpu.Optimizers.AdamW(kernels, F(parameters), F(gradients), F(firstMoment), F(secondMoment), parameters.Length,
            learningRate, beta1, beta2, epsilon, weightDecay, step), parameters);

    public void SumOfSquares(Tensor sum, Tensor x) =>
        Run(nameof(SumOfSquares), () => Elementwise.SumOfSquares(kernels, F(sum), F(x), x.Length, accumulate: false), x);

    public void ClipByNorm(Tensor x, Tensor sumOfSquares, float maxNorm) =>
        Run(nameof(ClipByNorm), () => Elementwise.ClipByNorm(kernels, F(x), F(sumOfSquares), maxNorm, x.Length), x);

    public void Dispose()
    {
        kernels.Dispose();
        accelerator.Dispose();
        context.Dispose();
    }

    void Elementwise2(string operation, Tensor y, Tensor x, Action<GpuKernels, ArrayView<float>, ArrayView<float>, long> kernel)
    {
        SameLength(operation, y, x);
        Run(operation, () => kernel(kernels, F(y), F(x), y.Length), y, x);
    }

    void Elementwise3(string operation, Tensor y, Tensor a, Tensor b, Action<GpuKernels, ArrayView<float>, ArrayView<float>, ArrayView<float>, long> kernel)
    {
        SameLength(operation, y, a);
        SameLength(operation, y, b);
        Run(operation, () => kernel(kernels, F(y), F(a), F(b), y.Length), y, a, b);
    }

    static void SameLength(string operation, Tensor a, Tensor b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"{operation}: shapes differ: {Tensor.Describe(a.Shape)} vs {Tensor.Describe(b.Shape)}.");
    }

    ArrayView<float> F(Tensor t) => View<float>(t);

    // The tensor's window of its device buffer, as elements of T (its element type).
    ArrayView<T> View<T>(Tensor t) where T : unmanaged
    {
        t.Require(DTypes.Of<T>(), Name);
        return Buffer(t).View.Cast<T>().SubView(t.Offset, t.Length);
    }

    ArrayView<byte> Bytes(Tensor t)
    {
        int size = t.DType.Size();
        return Buffer(t).View.SubView(t.Offset * size, t.Length * size);
    }

    DeviceBuffer Buffer(Tensor t) => t.Backend == this && t.Memory is DeviceBuffer buffer
        ? buffer
        : throw new ArgumentException($"{t} does not live on this backend ({Name}).");

    // Runs a launch, turning a device failure into a DeviceException that names the operation and its subjects
    // (tensors by shape, geometries and sizes as they print); the description is built only on failure.
    void Run(string operation, Action launch, params object[] subjects)
    {
        try
        {
            launch();
        }
        catch (Exception error) when (IsDeviceFailure(error))
        {
            throw Failure(operation, error, string.Join(", ", subjects.Select(s => s is Tensor t ? Tensor.Describe(t.Shape) : s.ToString())));
        }
    }

    // Errors of the device and its driver (a failed launch, out of memory), not of the caller's arguments.
    static bool IsDeviceFailure(Exception error) => error is not (ArgumentException or DeviceException);

    DeviceException Failure(string operation, Exception error, string what) =>
        new($"{Name}: {operation} on {what} failed: {error.Message}", error);

    /// <summary>A block of accelerator memory; views of every element type are cast from its bytes.</summary>
    sealed class DeviceBuffer : DeviceMemory
    {
        readonly MemoryBuffer1D<byte, Stride1D.Dense> buffer;

        public DeviceBuffer(Accelerator accelerator, DType type, long length) : base(type, length)
        {
            buffer = accelerator.Allocate1D<byte>(Math.Max(Bytes, sizeof(float)));
            buffer.MemSetToZero(accelerator.DefaultStream);
        }

        public ArrayView<byte> View => buffer.View;

        public override void Dispose() => buffer.Dispose();
    }
}

/// <summary>
/// A device failed: a kernel launch error, device memory exhausted, or a lost driver. The message names the device,
/// the operation and its tensors' shapes.
/// </summary>
public sealed class DeviceException(string message, Exception inner) : Exception(message, inner);
