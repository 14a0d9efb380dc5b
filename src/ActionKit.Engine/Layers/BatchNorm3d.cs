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
    Tensor? input, output, inputGradient, mean, invStd, channelScratch, correction;
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
            if (statistics is null)
                Backend.BatchNormForwardTraining(output!, mean!, invStd!, RunningMean.Value, RunningVar.Value, x,
                    Weight.Value, Bias.Value, momentum, epsilon, activation);
            else
                ForwardWithGlobalStatistics(x, statistics);
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
        if (statistics is null)
            Backend.BatchNormBackward(dx, Weight.Gradient, Bias.Gradient, dy, x, Weight.Value, Bias.Value,
                Saved(mean, Weight.Name), Saved(invStd, Weight.Name), activation);
        else
            BackwardWithGlobalStatistics(dx, dy, x, statistics);
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

    // sync_bn forward. The training kernel gives this replica's mean and invStd (into scratch running statistics);
    // as sums [rows, Σx, Σx²] they are added over the replicas, and the output is normalized with the global mean and
    // variance by the inference kernel. Running statistics are updated as the kernel would, with the global batch's.
    void ForwardWithGlobalStatistics(Tensor x, BatchStatisticsReducer reduce)
    {
        var scratch = Ensure(ref channelScratch, 3, channels);
        Tensor localRunningMean = scratch.View(0, channels), localRunningVar = scratch.View(channels, channels), variance = scratch.View(2 * channels, channels);
        Backend.BatchNormForwardTraining(output!, mean!, invStd!, localRunningMean, localRunningVar, x, Weight.Value, Bias.Value,
            momentum, epsilon, activation);
        long rows = x.Length / channels;
        float[] localMean = mean!.ToArray(), localInvStd = invStd!.ToArray();
        var sums = new double[1 + 2 * channels];
        sums[0] = rows;
        for (int c = 0; c < channels; c++)
        {
            double localVariance = 1.0 / ((double)localInvStd[c] * localInvStd[c]) - epsilon;
            sums[1 + c] = rows * (double)localMean[c];
            sums[1 + channels + c] = rows * (localVariance + (double)localMean[c] * localMean[c]);
        }
        reduce(sums);

        double n = sums[0];
        float[] runningMean = RunningMean.Value.ToArray(), runningVar = RunningVar.Value.ToArray();
        float[] globalMean = new float[channels], globalInvStd = new float[channels], globalVariance = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double m = sums[1 + c] / n, v = Math.Max(0, sums[1 + channels + c] / n - m * m);
            (globalMean[c], globalVariance[c], globalInvStd[c]) = ((float)m, (float)v, (float)(1.0 / Math.Sqrt(v + epsilon)));
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * globalMean[c];
            runningVar[c] = (float)((1 - momentum) * runningVar[c] + momentum * (n > 1 ? v * n / (n - 1) : v));
        }
        mean.CopyFrom(globalMean);
        invStd.CopyFrom(globalInvStd);
        variance.CopyFrom(globalVariance);
        RunningMean.Value.CopyFrom(runningMean);
        RunningVar.Value.CopyFrom(runningVar);
        Backend.BatchNormForwardInference(output!, x, Weight.Value, Bias.Value, mean, variance, epsilon, activation);
    }

    // sync_bn backward. With the global mean and invStd the kernel's dγ and dβ are this replica's Σg·x̂ and Σg
    // (g = act'·dy), its shares of the parameter gradients (which the trainer then sums); but it normalized dx with
    // those local sums over local rows: dx = a·g - a·(Σg + x̂·Σg·x̂)/rows, a = γ·invStd. After the sums are added over
    // the replicas, dx gets the difference, a per-channel affine map of x: α·(x - mean) + β.
    void BackwardWithGlobalStatistics(Tensor dx, Tensor dy, Tensor x, BatchStatisticsReducer reduce)
    {
        var scratch = Ensure(ref channelScratch, 3, channels);
        Tensor localDGamma = scratch.View(0, channels), localDBeta = scratch.View(channels, channels);
        Backend.Fill(scratch, 0);
        Backend.BatchNormBackward(dx, localDGamma, localDBeta, dy, x, Weight.Value, Bias.Value,
            Saved(mean, Weight.Name), Saved(invStd, Weight.Name), activation);
        Backend.AddInPlace(Weight.Gradient, localDGamma);
        Backend.AddInPlace(Bias.Gradient, localDBeta);

        long rows = x.Length / channels;
        float[] sumGradientCentered = localDGamma.ToArray(), sumGradient = localDBeta.ToArray();
        float[] gamma = Weight.Value.ToArray(), std = invStd!.ToArray();
        var sums = new double[1 + 2 * channels];
        sums[0] = rows;
        for (int c = 0; c < channels; c++)
            (sums[1 + c], sums[1 + channels + c]) = (sumGradient[c], sumGradientCentered[c]);
        reduce(sums);

        double n = sums[0];
        float[] alpha = new float[channels], beta = new float[channels], unitVariance = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double a = (double)gamma[c] * std[c];
            alpha[c] = (float)(-a * std[c] * (sums[1 + channels + c] / n - sumGradientCentered[c] / (double)rows));
            beta[c] = (float)(-a * (sums[1 + c] / n - sumGradient[c] / (double)rows));
            unitVariance[c] = 1 - epsilon;
        }
        // The inference kernel with γ = α, β = β, running mean = mean, running variance + ε = 1 and no activation
        // computes exactly α·(x - mean) + β.
        Tensor alphaTensor = scratch.View(0, channels), betaTensor = scratch.View(channels, channels), ones = scratch.View(2 * channels, channels);
        alphaTensor.CopyFrom(alpha);
        betaTensor.CopyFrom(beta);
        ones.CopyFrom(unitVariance);
        var difference = Ensure(ref correction, x.Shape);
        Backend.BatchNormForwardInference(difference, x, alphaTensor, betaTensor, mean!, ones, epsilon, Activation.None);
        Backend.AddInPlace(dx, difference);
    }
}
