using ActionKit.Kernels;

namespace ActionKit.Engine.Layers;

/// <summary>
/// Adds every replica's per-channel sums element-wise (a data-parallel run's ranks, in a fixed order), so that
/// synchronized BatchNorm normalizes with the statistics of the global batch.
/// </summary>
public delegate void BatchStatisticsReducer(double[] sums);

/// <summary>
/// BatchNorm3d over the channels of a channels-last tensor, fused with the activation after it (ReLU or Swish), so
/// the normalized tensor is never stored. Training uses batch statistics and updates the running ones (PyTorch's
/// momentum and unbiased variance); evaluation uses the running statistics. Backward follows the mode of the last
/// Forward: after an evaluation-mode Forward it gives the frozen network's input gradient (what explanations need).
/// With a <see cref="BatchStatisticsReducer"/> (sync_bn), training statistics and the backward pass's sums cover the
/// rows of every replica.
/// </summary>
public sealed class BatchNorm3d : Layer
{
    readonly int channels;
    readonly float epsilon, momentum;
    readonly Activation activation;
    readonly BatchStatisticsReducer? statistics;
    Tensor? input, output, inputGradient, mean, invStd;
    // Evaluation-mode backward: the pre-activation, the gradient at it, and per-row copies of [N, C] scales.
    Tensor? preActivation, preActivationGradient, rowScale, rowOnes, unusedScaleGradient;
    bool lastForwardTraining;

    public BatchNorm3d(ParameterStore store, IBackend backend, string name, int channels, float epsilon, float momentum,
        Activation activation, float initialScale = 1f, BatchStatisticsReducer? statistics = null) : base(backend)
    {
        this.channels = channels;
        this.statistics = statistics;
        this.epsilon = epsilon;
        this.momentum = momentum;
        this.activation = activation;
        Weight = store.Add($"{name}.weight", [channels], new Initializer.Constant(initialScale));
        Bias = store.Add($"{name}.bias", [channels], new Initializer.Constant(0));
        RunningMean = store.AddBuffer($"{name}.running_mean", [channels], 0);
        RunningVar = store.AddBuffer($"{name}.running_var", [channels], 1);
        BatchesTracked = store.AddCounter($"{name}.num_batches_tracked");
    }

    public Parameter Weight { get; }
    public Parameter Bias { get; }
    public Parameter RunningMean { get; }
    public Parameter RunningVar { get; }
    public Counter BatchesTracked { get; }

    public Tensor Forward(Tensor x, bool training)
    {
        using var timing = Time("forward");
        if (x.Dim(-1) != channels)
            throw new ArgumentException($"{Weight.Name}: expects {channels} channels, got {Tensor.Describe(x.Shape)}.");
        Ensure(ref output, x.Shape);
        if (training)
        {
            Ensure(ref mean, channels);
            Ensure(ref invStd, channels);
            Backend.BatchNormForwardTraining(output!, mean!, invStd!, RunningMean.Value, RunningVar.Value, x,
                Weight.Value, Bias.Value, momentum, epsilon, activation, statistics);
            BatchesTracked.Value++;
        }
        else
            Backend.BatchNormForwardInference(output!, x, Weight.Value, Bias.Value, RunningMean.Value, RunningVar.Value, epsilon, activation);
        input = x;
        lastForwardTraining = training;
        return output!;
    }

    /// <summary>
    /// Backward of the training-mode forward (batch statistics). With <paramref name="overwriteGradient"/>, dx is
    /// written over dy (which the caller no longer needs): the gradient stays in the cache lines just read.
    /// </summary>
    public Tensor Backward(Tensor dy, bool overwriteGradient = false)
    {
        using var timing = Time("backward");
        var x = Saved(input, Weight.Name);
        var dx = overwriteGradient ? dy : Ensure(ref inputGradient, x.Shape);
        if (!lastForwardTraining)
        {
            BackwardInference(dx, dy, x);
            return dx;
        }
        Backend.BatchNormBackward(dx, Weight.Gradient, Bias.Gradient, dy, x, Weight.Value, Bias.Value,
            Saved(mean, Weight.Name), Saved(invStd, Weight.Name), activation, statistics);
        return dx;
    }

    // y = act(a·x + b) with a = γ/sqrt(runningVar + ε) per channel, so dx = a·act'(a·x + b)·dy. Parameter gradients are
    // left alone: this path serves explanations of a trained network, never an optimizer step. Built from the
    // backend's existing operations (ChannelScale with a unit scale gives Swish's derivative).
    void BackwardInference(Tensor dx, Tensor dy, Tensor x)
    {
        int batch = x.Dim(0);
        var g = Ensure(ref preActivationGradient, x.Shape);
        switch (activation)
        {
            case Activation.None:
                Backend.Copy(g, dy);
                break;
            case Activation.Relu:
                Backend.ReluBackward(g, dy, Saved(output, Weight.Name));
                break;
            default:
                Ensure(ref preActivation, x.Shape);
                Backend.BatchNormForwardInference(preActivation!, x, Weight.Value, Bias.Value, RunningMean.Value, RunningVar.Value, epsilon, Activation.None);
                Ensure(ref rowOnes, batch, channels);
                Backend.Fill(rowOnes!, 1f);
                Ensure(ref unusedScaleGradient, batch, channels);
                Backend.ChannelScaleBackward(g, unusedScaleGradient!, dy, preActivation!, rowOnes!, activation);
                break;
        }
        float[] gamma = Weight.Value.ToArray(), variance = RunningVar.Value.ToArray();
        var scale = new float[batch * channels];
        for (int c = 0; c < channels; c++)
        {
            float a = (float)(gamma[c] / Math.Sqrt(variance[c] + (double)epsilon));
            for (int n = 0; n < batch; n++)
                scale[n * channels + c] = a;
        }
        Ensure(ref rowScale, batch, channels).CopyFrom(scale);
        Backend.ChannelScaleForward(dx, g, rowScale!, Activation.None);
    }
}
