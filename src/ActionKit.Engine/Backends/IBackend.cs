using ActionKit.Kernels;

namespace ActionKit.Engine;

/// <summary>
/// The narrow seam between layers and hardware: memory plus the primitive operations every layer is built from.
/// A new accelerator implements this interface; layers never touch device memory themselves.
/// Conventions: shapes are channels-last; parameter gradients accumulate (+=), activation gradients are overwritten.
/// Operations may run asynchronously in call order (a GPU queues them): results are read through
/// <see cref="Download{T}"/> or after <see cref="Synchronize"/>, and nothing returns a value computed on the device.
/// </summary>
public interface IBackend : IDisposable
{
    string Name { get; }

    /// <summary>A new zero-filled float32 tensor that owns its memory (dispose it).</summary>
    Tensor Allocate(params int[] shape);

    /// <summary>A new zero-filled tensor of <paramref name="type"/> that owns its memory (dispose it).</summary>
    Tensor Allocate(DType type, params int[] shape);

    /// <summary>Copies host values into the tensor; <typeparamref name="T"/> matches its element type.</summary>
    void Upload<T>(Tensor destination, ReadOnlySpan<T> source) where T : unmanaged;

    /// <summary>Waits for the work queued on the tensor, then copies it to the host.</summary>
    void Download<T>(Tensor source, Span<T> destination) where T : unmanaged;

    /// <summary>Waits until every queued operation has finished (and reports a device error, if one happened).</summary>
    void Synchronize();

    void Fill(Tensor tensor, float value);
    void Copy(Tensor destination, Tensor source);

    /// <summary>c[m,n] = (accumulate ? c : 0) + op(a)[m,k]·op(b)[k,n], row-major (see Kernels.Cpu.Gemm).</summary>
    void MatMul(Tensor c, Tensor a, Tensor b, int m, int n, int k, bool transposeA, bool transposeB, bool accumulate);

    void Conv3dForward(Tensor output, Tensor input, Tensor weight, ConvGeometry geometry);
    void Conv3dBackwardInput(Tensor dInput, Tensor dOutput, Tensor weight, ConvGeometry geometry);
    void Conv3dBackwardWeight(Tensor dWeight, Tensor dOutput, Tensor input, ConvGeometry geometry);

    void DepthwiseConv3dForward(Tensor output, Tensor input, Tensor weight, ConvGeometry geometry);
    void DepthwiseConv3dBackwardInput(Tensor dInput, Tensor dOutput, Tensor weight, ConvGeometry geometry);
    void DepthwiseConv3dBackwardWeight(Tensor dWeight, Tensor dOutput, Tensor input, ConvGeometry geometry);

    /// <summary>
    /// dWeight [outFeatures, inFeatures] += dyᵀ·x, the weight gradient of a linear map applied to every row of a batch
    /// (x [N, ..., inFeatures], dy [N, ..., outFeatures]): the CPU sums each clip's rows alone and the clips in a fixed
    /// tree (Kernels.Cpu.BatchTree), so data-parallel ranks can add their parts to exactly what one process computes.
    /// </summary>
    void LinearWeightGradient(Tensor dWeight, Tensor dy, Tensor x, int outFeatures, int inFeatures);

    /// <summary>
    /// y = activation(BN(x)) with batch statistics per channel over rows of x [N, ..., C]; saves mean and invStd,
    /// updates running stats. With <paramref name="replicas"/> (sync_bn) the statistics cover every rank's rows.
    /// </summary>
    void BatchNormForwardTraining(Tensor y, Tensor mean, Tensor invStd, Tensor runningMean, Tensor runningVar,
        Tensor x, Tensor gamma, Tensor beta, float momentum, float epsilon, Activation activation, Layers.BatchStatisticsReducer? replicas = null);
    void BatchNormForwardInference(Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
        float epsilon, Activation activation);
    /// <summary>
    /// dy is the gradient at the fused activation's output; the activation is re-derived from x, γ, β, mean, invStd.
    /// With <paramref name="replicas"/> (sync_bn) the sums cover every rank's rows and dγ, dβ get this rank's share.
    /// </summary>
    void BatchNormBackward(Tensor dx, Tensor dGamma, Tensor dBeta, Tensor dy, Tensor x, Tensor gamma, Tensor beta,
        Tensor mean, Tensor invStd, Activation activation, Layers.BatchStatisticsReducer? replicas = null);

    void Relu(Tensor y, Tensor x);
    void ReluBackward(Tensor dx, Tensor dy, Tensor y);
    void Sigmoid(Tensor y, Tensor x);
    void SigmoidBackward(Tensor dx, Tensor dy, Tensor y);

    /// <summary>y = a + b, then ReLU when asked.</summary>
    void Add(Tensor y, Tensor a, Tensor b, bool relu);
    void AddInPlace(Tensor y, Tensor x);
    void Scale(Tensor x, float factor);

    /// <summary>y [rows, C] += bias [C]; dBias += Σ_rows dy (dy [N, ..., C], summed as <see cref="LinearWeightGradient"/> sums).</summary>
    void BiasForward(Tensor y, Tensor bias);
    void BiasBackward(Tensor dBias, Tensor dy);

    /// <summary>y [N, S, C] = activation(x · scale [N, C]); backward overwrites dx and dScale.</summary>
    void ChannelScaleForward(Tensor y, Tensor x, Tensor scale, Activation activation);
    void ChannelScaleBackward(Tensor dx, Tensor dScale, Tensor dy, Tensor x, Tensor scale, Activation activation);

    /// <summary>x [N, D, H, W, C] to y [N, C].</summary>
    void GlobalAveragePoolForward(Tensor y, Tensor x);
    /// <summary>dx = (accumulate ? dx : 0) + dy spread evenly over the positions.</summary>
    void GlobalAveragePoolBackward(Tensor dx, Tensor dy, bool accumulate);

    /// <summary>Spatial stride (1, s, s) sampling of x [N, D, H, W, C], as a strided 1x1x1 convolution reads it.</summary>
    void SubsampleForward(Tensor y, Tensor x, int stride);
    void SubsampleBackward(Tensor dx, Tensor dy, int stride);

    void DropoutForward(Tensor y, Tensor mask, Tensor x, float probability, ulong seed);
    void DropoutBackward(Tensor dx, Tensor dy, Tensor mask);

    /// <summary>
    /// Softmax cross-entropy of logits [N, K] against int32 labels [N]: per-sample losses [N], probabilities [N, K]
    /// and their mean in <paramref name="meanLoss"/> [1].
    /// </summary>
    void CrossEntropyForward(Tensor meanLoss, Tensor losses, Tensor probabilities, Tensor logits, Tensor labels, float smoothing);
    void CrossEntropyBackward(Tensor dLogits, Tensor probabilities, Tensor labels, float smoothing);

    void SgdStep(Tensor parameters, Tensor gradients, Tensor momentumBuffer, float learningRate, float momentum, float weightDecay);
    void AdamWStep(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment,
        float learningRate, float beta1, float beta2, float epsilon, float weightDecay, long step);

    /// <summary>sum [1] = Σ x² in a fixed reduction order.</summary>
    void SumOfSquares(Tensor sum, Tensor x);

    /// <summary>
    /// Gradient-norm clipping from a precomputed sumOfSquares [1]: x *= maxNorm / (√sumOfSquares + 1e-6) when
    /// √sumOfSquares exceeds maxNorm (torch.nn.utils.clip_grad_norm_), without the host reading the norm.
    /// </summary>
    void ClipByNorm(Tensor x, Tensor sumOfSquares, float maxNorm);
}
