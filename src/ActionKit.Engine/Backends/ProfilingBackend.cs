using System.Diagnostics;
using ActionKit.Kernels;

namespace ActionKit.Engine;

/// <summary>
/// A backend decorator that times every operation of the backend it wraps (wall clock, synchronous CPU kernels),
/// so a researcher can see where a training step spends its time. Not thread-safe; one model at a time.
/// </summary>
public sealed class ProfilingBackend(IBackend inner) : IBackend
{
    readonly Dictionary<string, (double Seconds, long Calls)> totals = [];

    public string Name => inner.Name;

    /// <summary>Seconds and call counts per operation since the last <see cref="Reset"/>, largest first.</summary>
    public IReadOnlyList<(string Operation, double Seconds, long Calls)> Totals =>
        totals.Select(kv => (kv.Key, kv.Value.Seconds, kv.Value.Calls)).OrderByDescending(t => t.Seconds).ToList();

    public void Reset() => totals.Clear();

    void Record(string operation, long start)
    {
        var (seconds, calls) = totals.GetValueOrDefault(operation);
        totals[operation] = (seconds + Stopwatch.GetElapsedTime(start).TotalSeconds, calls + 1);
    }

    public Tensor Allocate(params int[] shape) => inner.Allocate(shape);

    public void Upload(Tensor destination, ReadOnlySpan<float> source) => inner.Upload(destination, source);

    public void Download(Tensor source, Span<float> destination) => inner.Download(source, destination);

    public void Fill(Tensor tensor, float value)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Fill(tensor, value);
        Record("Fill", start);
    }

    public void Copy(Tensor destination, Tensor source)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Copy(destination, source);
        Record("Copy", start);
    }

    public void MatMul(Tensor c, Tensor a, Tensor b, int m, int n, int k, bool transposeA, bool transposeB, bool accumulate)
    {
        long start = Stopwatch.GetTimestamp();
        inner.MatMul(c, a, b, m, n, k, transposeA, transposeB, accumulate);
        Record($"MatMul {(transposeA ? 'T' : 'N')}{(transposeB ? 'T' : 'N')}", start);
    }

    public void Conv3dForward(Tensor output, Tensor input, Tensor weight, ConvGeometry geometry)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Conv3dForward(output, input, weight, geometry);
        Record("Conv3dForward", start);
    }

    public void Conv3dBackwardInput(Tensor dInput, Tensor dOutput, Tensor weight, ConvGeometry geometry)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Conv3dBackwardInput(dInput, dOutput, weight, geometry);
        Record("Conv3dBackwardInput", start);
    }

    public void Conv3dBackwardWeight(Tensor dWeight, Tensor dOutput, Tensor input, ConvGeometry geometry)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Conv3dBackwardWeight(dWeight, dOutput, input, geometry);
        Record("Conv3dBackwardWeight", start);
    }

    public void DepthwiseConv3dForward(Tensor output, Tensor input, Tensor weight, ConvGeometry geometry)
    {
        long start = Stopwatch.GetTimestamp();
        inner.DepthwiseConv3dForward(output, input, weight, geometry);
        Record("DepthwiseConv3dForward", start);
    }

    public void DepthwiseConv3dBackwardInput(Tensor dInput, Tensor dOutput, Tensor weight, ConvGeometry geometry)
    {
        long start = Stopwatch.GetTimestamp();
        inner.DepthwiseConv3dBackwardInput(dInput, dOutput, weight, geometry);
        Record("DepthwiseConv3dBackwardInput", start);
    }

    public void DepthwiseConv3dBackwardWeight(Tensor dWeight, Tensor dOutput, Tensor input, ConvGeometry geometry)
    {
        long start = Stopwatch.GetTimestamp();
        inner.DepthwiseConv3dBackwardWeight(dWeight, dOutput, input, geometry);
        Record("DepthwiseConv3dBackwardWeight", start);
    }

    public void BatchNormForwardTraining(Tensor y, Tensor mean, Tensor invStd, Tensor runningMean, Tensor runningVar, Tensor x, Tensor gamma, Tensor beta, float momentum, float epsilon, Activation activation)
    {
        long start = Stopwatch.GetTimestamp();
        inner.BatchNormForwardTraining(y, mean, invStd, runningMean, runningVar, x, gamma, beta, momentum, epsilon, activation);
        Record("BatchNormForwardTraining", start);
    }

    public void BatchNormForwardInference(Tensor y, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float epsilon, Activation activation)
    {
        long start = Stopwatch.GetTimestamp();
        inner.BatchNormForwardInference(y, x, gamma, beta, runningMean, runningVar, epsilon, activation);
        Record("BatchNormForwardInference", start);
    }

    public void BatchNormBackward(Tensor dx, Tensor dGamma, Tensor dBeta, Tensor dy, Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Activation activation)
    {
        long start = Stopwatch.GetTimestamp();
        inner.BatchNormBackward(dx, dGamma, dBeta, dy, x, gamma, beta, mean, invStd, activation);
        Record("BatchNormBackward", start);
    }

    public void Relu(Tensor y, Tensor x)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Relu(y, x);
        Record("Relu", start);
    }

    public void ReluBackward(Tensor dx, Tensor dy, Tensor y)
    {
        long start = Stopwatch.GetTimestamp();
        inner.ReluBackward(dx, dy, y);
        Record("ReluBackward", start);
    }

    public void Sigmoid(Tensor y, Tensor x)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Sigmoid(y, x);
        Record("Sigmoid", start);
    }

    public void SigmoidBackward(Tensor dx, Tensor dy, Tensor y)
    {
        long start = Stopwatch.GetTimestamp();
        inner.SigmoidBackward(dx, dy, y);
        Record("SigmoidBackward", start);
    }

    public void Add(Tensor y, Tensor a, Tensor b, bool relu)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Add(y, a, b, relu);
        Record("Add", start);
    }

    public void AddInPlace(Tensor y, Tensor x)
    {
        long start = Stopwatch.GetTimestamp();
        inner.AddInPlace(y, x);
        Record("AddInPlace", start);
    }

    public void Scale(Tensor x, float factor)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Scale(x, factor);
        Record("Scale", start);
    }

    public void BiasForward(Tensor y, Tensor bias)
    {
        long start = Stopwatch.GetTimestamp();
        inner.BiasForward(y, bias);
        Record("BiasForward", start);
    }

    public void BiasBackward(Tensor dBias, Tensor dy)
    {
        long start = Stopwatch.GetTimestamp();
        inner.BiasBackward(dBias, dy);
        Record("BiasBackward", start);
    }

    public void ChannelScaleForward(Tensor y, Tensor x, Tensor scale, Activation activation)
    {
        long start = Stopwatch.GetTimestamp();
        inner.ChannelScaleForward(y, x, scale, activation);
        Record("ChannelScaleForward", start);
    }

    public void ChannelScaleBackward(Tensor dx, Tensor dScale, Tensor dy, Tensor x, Tensor scale, Activation activation)
    {
        long start = Stopwatch.GetTimestamp();
        inner.ChannelScaleBackward(dx, dScale, dy, x, scale, activation);
        Record("ChannelScaleBackward", start);
    }

    public void GlobalAveragePoolForward(Tensor y, Tensor x)
    {
        long start = Stopwatch.GetTimestamp();
        inner.GlobalAveragePoolForward(y, x);
        Record("GlobalAveragePoolForward", start);
    }

    public void GlobalAveragePoolBackward(Tensor dx, Tensor dy, bool accumulate)
    {
        long start = Stopwatch.GetTimestamp();
        inner.GlobalAveragePoolBackward(dx, dy, accumulate);
        Record("GlobalAveragePoolBackward", start);
    }

    public void SubsampleForward(Tensor y, Tensor x, int stride)
    {
        long start = Stopwatch.GetTimestamp();
        inner.SubsampleForward(y, x, stride);
        Record("SubsampleForward", start);
    }

    public void SubsampleBackward(Tensor dx, Tensor dy, int stride)
    {
        long start = Stopwatch.GetTimestamp();
        inner.SubsampleBackward(dx, dy, stride);
        Record("SubsampleBackward", start);
    }

    public void DropoutForward(Tensor y, Tensor mask, Tensor x, float probability, ulong seed)
    {
        long start = Stopwatch.GetTimestamp();
        inner.DropoutForward(y, mask, x, probability, seed);
        Record("DropoutForward", start);
    }

    public void DropoutBackward(Tensor dx, Tensor dy, Tensor mask)
    {
        long start = Stopwatch.GetTimestamp();
        inner.DropoutBackward(dx, dy, mask);
        Record("DropoutBackward", start);
    }

    public double CrossEntropyForward(Tensor losses, Tensor probabilities, Tensor logits, ReadOnlySpan<int> labels, float smoothing)
    {
        long start = Stopwatch.GetTimestamp();
        var result = inner.CrossEntropyForward(losses, probabilities, logits, labels, smoothing);
        Record("CrossEntropyForward", start);
        return result;
    }

    public void CrossEntropyBackward(Tensor dLogits, Tensor probabilities, ReadOnlySpan<int> labels, float smoothing)
    {
        long start = Stopwatch.GetTimestamp();
        inner.CrossEntropyBackward(dLogits, probabilities, labels, smoothing);
        Record("CrossEntropyBackward", start);
    }

    public void SgdStep(Tensor parameters, Tensor gradients, Tensor momentumBuffer, float learningRate, float momentum, float weightDecay)
    {
        long start = Stopwatch.GetTimestamp();
        inner.SgdStep(parameters, gradients, momentumBuffer, learningRate, momentum, weightDecay);
        Record("SgdStep", start);
    }

    public void AdamWStep(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, long step)
    {
        long start = Stopwatch.GetTimestamp();
        inner.AdamWStep(parameters, gradients, firstMoment, secondMoment, learningRate, beta1, beta2, epsilon, weightDecay, step);
        Record("AdamWStep", start);
    }

    public double SumOfSquares(Tensor x)
    {
        long start = Stopwatch.GetTimestamp();
        var result = inner.SumOfSquares(x);
        Record("SumOfSquares", start);
        return result;
    }

    public void Dispose() => inner.Dispose();
}
