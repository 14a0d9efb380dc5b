using ActionKit.Kernels;
using ActionKit.Kernels.Cpu;
using ActionKit.Kernels.Tests;

namespace ActionKit.Engine.Tests;

/// <summary>
/// Every <see cref="IBackend"/> operation on every backend this machine has (<see cref="TestBackends"/>), against
/// plain loops in double: the contract a new backend must meet. Shapes are tiny (ILGPU's CPU accelerator is a
/// simulator) but odd, strided and not multiples of any tile.
/// </summary>
[Collection(nameof(TestBackendCollection))]
public sealed class BackendConformanceTests
{
    public static TheoryData<string> Backends => TestBackends.Names;

    static float[] Values(long count, int seed) => GradientCheck.RandomValues(count, (ulong)seed);

    static Tensor Upload(IBackend backend, float[] values, params int[] shape)
    {
        var t = backend.Allocate(shape);
        t.CopyFrom(values);
        return t;
    }

    static void Close(float[] want, Tensor got, string what) => TestArrays.AssertClose(want, got.ToArray(), $"{got.Backend.Name} {what}");

    [Theory]
    [MemberData(nameof(Backends))]
    public void TypedTensorsRoundTripAndViewsShareMemory(string name)
    {
        var backend = TestBackends.Get(name);
        using var ints = backend.Allocate(DType.Int32, 2, 3);
        Assert.Equal(new int[6], ints.ToArray<int>());
        ints.CopyFrom<int>([1, -2, 3, int.MaxValue, 5, int.MinValue]);
        Assert.Equal([1, -2, 3, int.MaxValue, 5, int.MinValue], ints.ToArray<int>());
        using var bytes = backend.Allocate(DType.UInt8, 5);
        bytes.CopyFrom<byte>([0, 1, 127, 128, 255]);
        Assert.Equal([0, 1, 127, 128, 255], bytes.ToArray<byte>());
        using var signed = backend.Allocate(DType.Int8, 3);
        signed.CopyFrom<sbyte>([-128, 0, 127]);
        Assert.Equal([-128, 0, 127], signed.ToArray<sbyte>());
        Assert.Throws<ArgumentException>(() => ints.ToArray<float>());

        using var floats = Upload(backend, [1, 2, 3, 4, 5, 6, 7], 7);
        var window = floats.View(2, 3);
        backend.Fill(window, -1);
        Assert.Equal([1, 2, -1, -1, -1, 6, 7], floats.ToArray());
        using var copy = backend.Allocate(3);
        backend.Copy(copy, floats.View(4, 3));
        Assert.Equal([-1, 6, 7], copy.ToArray());
        using var intCopy = backend.Allocate(DType.Int32, 2);
        backend.Copy(intCopy, ints.View(2, 2));
        Assert.Equal([3, int.MaxValue], intCopy.ToArray<int>());
        backend.Synchronize();
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void MatMulInEveryTransposeWithAndWithoutAccumulation(string name)
    {
        var backend = TestBackends.Get(name);
        const int m = 7, n = 5, k = 9;
        foreach (bool transposeA in new[] { false, true })
            foreach (bool transposeB in new[] { false, true })
                foreach (bool accumulate in new[] { false, true })
                {
                    var (a, b, c) = (Values(m * k, 1), Values(k * n, 2), Values(m * n, 3));
                    using var ta = Upload(backend, a, m * k);
                    using var tb = Upload(backend, b, k * n);
                    using var tc = Upload(backend, c, m * n);
                    backend.MatMul(tc, ta, tb, m, n, k, transposeA, transposeB, accumulate);
                    Reference.Multiply(c, a, b, m, n, k, transposeA, transposeB, accumulate);
                    Close(c, tc, $"MatMul {transposeA} {transposeB} {accumulate}");
                }
    }

    public static TheoryData<string, int> BackendsAndGeometries
    {
        get
        {
            var data = new TheoryData<string, int>();
            foreach (string backend in TestBackends.All)
                for (int geometry = 0; geometry < 3; geometry++)
                    data.Add(backend, geometry);
            return data;
        }
    }

    // A depthwise block's 3x3x3 with spatial stride 2 on odd sizes, the stem's 5x1x1 temporal kernel, and a 3x3x3
    // on a 1x1 map (the last stage of a small clip), with more channels than a 512-bit vector holds.
    static ConvGeometry Depthwise(int which) => which switch
    {
        0 => new ConvGeometry(2, 3, 5, 7, 11, 11, 3, 3, 3, 1, 2, 2, 1, 1, 1),
        1 => new ConvGeometry(1, 6, 3, 4, 5, 5, 5, 1, 1, 1, 1, 1, 2, 0, 0),
        _ => new ConvGeometry(2, 2, 1, 1, 18, 18, 3, 3, 3, 1, 1, 1, 1, 1, 1),
    };

    [Theory]
    [MemberData(nameof(BackendsAndGeometries))]
    public void DepthwiseConvolutionForwardAndBothBackwards(string name, int geometry)
    {
        var backend = TestBackends.Get(name);
        var g = Depthwise(geometry);
        long weights = (long)g.InChannels * g.KernelVolume;
        var (input, weight, dOutput, dWeight) = (Values(g.InputLength, 4), Values(weights, 5), Values(g.OutputLength, 6), Values(weights, 7));
        using var tInput = Upload(backend, input, (int)g.InputLength);
        using var tWeight = Upload(backend, weight, (int)weights);
        using var tdOutput = Upload(backend, dOutput, (int)g.OutputLength);
        using var tdWeight = Upload(backend, dWeight, (int)weights);
        using var tOutput = backend.Allocate((int)g.OutputLength);
        using var tdInput = backend.Allocate((int)g.InputLength);
        backend.DepthwiseConv3dForward(tOutput, tInput, tWeight, g);
        backend.DepthwiseConv3dBackwardInput(tdInput, tdOutput, tWeight, g);
        backend.DepthwiseConv3dBackwardWeight(tdWeight, tdOutput, tInput, g);
        var (output, dInput) = (new float[g.OutputLength], new float[g.InputLength]);
        Reference.DepthwiseForward(output, input, weight, g);
        Reference.DepthwiseBackwardInput(dInput, dOutput, weight, g);
        Reference.DepthwiseBackwardWeight(dWeight, dOutput, input, g);
        Close(output, tOutput, "depthwise forward");
        Close(dInput, tdInput, "depthwise backward-data");
        Close(dWeight, tdWeight, "depthwise backward-weight (accumulated)");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void DenseConvolutionForwardAndBothBackwards(string name)
    {
        var backend = TestBackends.Get(name);
        var g = new ConvGeometry(2, 2, 7, 9, 3, 5, 1, 3, 3, 1, 2, 2, 0, 1, 1);
        long weights = (long)g.OutChannels * g.InChannels * g.KernelVolume;
        var (input, weight, dOutput, dWeight) = (Values(g.InputLength, 8), Values(weights, 9), Values(g.OutputLength, 10), Values(weights, 11));
        using var tInput = Upload(backend, input, (int)g.InputLength);
        using var tWeight = Upload(backend, weight, (int)weights);
        using var tdOutput = Upload(backend, dOutput, (int)g.OutputLength);
        using var tdWeight = Upload(backend, dWeight, (int)weights);
        using var tOutput = backend.Allocate((int)g.OutputLength);
        using var tdInput = backend.Allocate((int)g.InputLength);
        backend.Conv3dForward(tOutput, tInput, tWeight, g);
        backend.Conv3dBackwardInput(tdInput, tdOutput, tWeight, g);
        backend.Conv3dBackwardWeight(tdWeight, tdOutput, tInput, g);
        var (output, dInput) = (new float[g.OutputLength], new float[g.InputLength]);
        Reference.Conv3d(output, dInput, dWeight, input, weight, dOutput, g);
        Close(output, tOutput, "conv forward");
        Close(dInput, tdInput, "conv backward-data");
        Close(dWeight, tdWeight, "conv backward-weight (accumulated)");
    }

    static double Act(Activation activation, double v) => activation switch
    {
        Activation.Relu => Math.Max(v, 0),
        Activation.Swish => v / (1 + Math.Exp(-v)),
        _ => v,
    };

    static double Slope(Activation activation, double v) => activation switch
    {
        Activation.Relu => v > 0 ? 1 : 0,
        Activation.Swish => 1 / (1 + Math.Exp(-v)) * (1 + v * (1 - 1 / (1 + Math.Exp(-v)))),
        _ => 1,
    };

    public static TheoryData<string, Activation> BackendsAndActivations
    {
        get
        {
            var data = new TheoryData<string, Activation>();
            foreach (string backend in TestBackends.All)
                foreach (var activation in new[] { Activation.None, Activation.Relu, Activation.Swish })
                    data.Add(backend, activation);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(BackendsAndActivations))]
    public void BatchNormTrainingInferenceAndBackwardFusedWithTheActivation(string name, Activation activation)
    {
        var backend = TestBackends.Get(name);
        const int rows = 37, channels = 13;
        const float momentum = 0.1f, epsilon = 1e-5f;
        var (x, gamma, beta, dy) = (Values(rows * channels, 12), Values(channels, 13), Values(channels, 14), Values(rows * channels, 15));
        var (runMean, runVar) = (Values(channels, 16), Values(channels, 17).Select(v => 1 + v * v).ToArray());
        var (dGamma, dBeta) = (Values(channels, 18), Values(channels, 19));
        using var tx = Upload(backend, x, rows, channels);
        using var tGamma = Upload(backend, gamma, channels);
        using var tBeta = Upload(backend, beta, channels);
        using var tdy = Upload(backend, dy, rows, channels);
        using var tRunMean = Upload(backend, runMean, channels);
        using var tRunVar = Upload(backend, runVar, channels);
        using var tdGamma = Upload(backend, dGamma, channels);
        using var tdBeta = Upload(backend, dBeta, channels);
        using Tensor ty = backend.Allocate(rows, channels), tInference = backend.Allocate(rows, channels), tdx = backend.Allocate(rows, channels);
        using Tensor tMean = backend.Allocate(channels), tInvStd = backend.Allocate(channels);
        backend.BatchNormForwardInference(tInference, tx, tGamma, tBeta, tRunMean, tRunVar, epsilon, activation);
        backend.BatchNormForwardTraining(ty, tMean, tInvStd, tRunMean, tRunVar, tx, tGamma, tBeta, momentum, epsilon, activation);
        backend.BatchNormBackward(tdx, tdGamma, tdBeta, tdy, tx, tGamma, tBeta, tMean, tInvStd, activation);

        var (y, inference, dx) = (new float[x.Length], new float[x.Length], new float[x.Length]);
        var (mean, invStd) = (new float[channels], new float[channels]);
        for (int c = 0; c < channels; c++)
        {
            double runningScale = 1 / Math.Sqrt(runVar[c] + epsilon), m = 0, v = 0;
            for (int r = 0; r < rows; r++)
            {
                int i = r * channels + c;
                inference[i] = (float)Act(activation, gamma[c] * (x[i] - runMean[c]) * runningScale + beta[c]);
                m += x[i] / (double)rows;
            }
            for (int r = 0; r < rows; r++)
                v += Math.Pow(x[r * channels + c] - m, 2) / rows;
            double s = 1 / Math.Sqrt(v + epsilon), sumG = 0, sumGx = 0;
            (mean[c], invStd[c]) = ((float)m, (float)s);
            runMean[c] = (float)((1 - momentum) * runMean[c] + momentum * m);
            runVar[c] = (float)((1 - momentum) * runVar[c] + momentum * v * rows / (rows - 1));
            var g = new double[rows];
            for (int r = 0; r < rows; r++)
            {
                int i = r * channels + c;
                double pre = gamma[c] * (x[i] - m) * s + beta[c];
                y[i] = (float)Act(activation, pre);
                g[r] = dy[i] * Slope(activation, pre);
                sumG += g[r];
                sumGx += g[r] * (x[i] - m) * s;
            }
            dGamma[c] += (float)sumGx;
            dBeta[c] += (float)sumG;
            for (int r = 0; r < rows; r++)
            {
                int i = r * channels + c;
                dx[i] = (float)(gamma[c] * s * (g[r] - sumG / rows - (x[i] - m) * s * sumGx / rows));
            }
        }
        Close(inference, tInference, "batch norm inference");
        Close(y, ty, "batch norm training");
        Close(mean, tMean, "batch mean");
        Close(invStd, tInvStd, "batch inverse std");
        Close(runMean, tRunMean, "running mean");
        Close(runVar, tRunVar, "running variance");
        Close(dx, tdx, "batch norm dx");
        Close(dGamma, tdGamma, "batch norm dGamma (accumulated)");
        Close(dBeta, tdBeta, "batch norm dBeta (accumulated)");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ElementwiseActivationsResidualsAndScaling(string name)
    {
        var backend = TestBackends.Get(name);
        const int count = 333;
        var (x, a, dy) = (Values(count, 20), Values(count, 21), Values(count, 22));
        using var tx = Upload(backend, x, count);
        using var ta = Upload(backend, a, count);
        using var tdy = Upload(backend, dy, count);
        using Tensor relu = backend.Allocate(count), reluBack = backend.Allocate(count), sigmoid = backend.Allocate(count), sigmoidBack = backend.Allocate(count);
        using Tensor sum = backend.Allocate(count), sumRelu = backend.Allocate(count), inPlace = Upload(backend, a, count);
        backend.Relu(relu, tx);
        backend.ReluBackward(reluBack, tdy, relu);
        backend.Sigmoid(sigmoid, tx);
        backend.SigmoidBackward(sigmoidBack, tdy, sigmoid);
        backend.Add(sum, tx, ta, relu: false);
        backend.Add(sumRelu, tx, ta, relu: true);
        backend.AddInPlace(inPlace, tx);
        backend.Scale(inPlace, -0.5f);
        Close([.. x.Select(v => MathF.Max(v, 0))], relu, "relu");
        Close([.. x.Select((v, i) => v > 0 ? dy[i] : 0)], reluBack, "relu backward");
        var s = x.Select(v => 1 / (1 + Math.Exp(-v))).ToArray();
        Close([.. s.Select(v => (float)v)], sigmoid, "sigmoid");
        Close([.. s.Select((v, i) => (float)(dy[i] * v * (1 - v)))], sigmoidBack, "sigmoid backward");
        Close([.. x.Select((v, i) => v + a[i])], sum, "add");
        Close([.. x.Select((v, i) => MathF.Max(v + a[i], 0))], sumRelu, "add with relu");
        Close([.. x.Select((v, i) => -0.5f * (v + a[i]))], inPlace, "add in place, then scale");
    }

    [Theory]
    [MemberData(nameof(BackendsAndActivations))]
    public void BiasPoolingAndChannelScale(string name, Activation activation)
    {
        var backend = TestBackends.Get(name);
        const int batch = 3, positions = 29, channels = 11;
        long count = batch * positions * channels;
        var (x, dy, bias, dBias, scale, pooledGradient) = (Values(count, 23), Values(count, 24), Values(channels, 25),
            Values(channels, 26), Values(batch * channels, 27), Values(batch * channels, 28));
        var accumulated = Values(count, 29);
        using var tx = Upload(backend, x, batch, 1, positions, 1, channels);
        using var tdy = Upload(backend, dy, batch, 1, positions, 1, channels);
        using var tBias = Upload(backend, bias, channels);
        using var tdBias = Upload(backend, dBias, channels);
        using var tScale = Upload(backend, scale, batch, channels);
        using var tPooledGradient = Upload(backend, pooledGradient, batch, channels);
        using var tAccumulated = Upload(backend, accumulated, batch, 1, positions, 1, channels);
        using var biased = Upload(backend, x, batch * positions, channels);
        using Tensor pooled = backend.Allocate(batch, channels), spread = backend.Allocate(batch, 1, positions, 1, channels), scaled = backend.Allocate(batch, 1, positions, 1, channels);
        using Tensor dScaled = backend.Allocate(batch, 1, positions, 1, channels), dScale = backend.Allocate(batch, channels);
        backend.BiasForward(biased, tBias);
        backend.BiasBackward(tdBias, tdy);
        backend.GlobalAveragePoolForward(pooled, tx);
        backend.GlobalAveragePoolBackward(spread, tPooledGradient, accumulate: false);
        backend.GlobalAveragePoolBackward(tAccumulated, tPooledGradient, accumulate: true);
        backend.ChannelScaleForward(scaled, tx, tScale, activation);
        backend.ChannelScaleBackward(dScaled, dScale, tdy, tx, tScale, activation);

        var (wantBiased, wantPooled, wantSpread, wantScaled, wantDScaled, wantDScale) = (new float[count], new float[batch * channels],
            new float[count], new float[count], new float[count], new float[batch * channels]);
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
            {
                double mean = 0, gradient = 0;
                for (int p = 0; p < positions; p++)
                {
                    long i = ((long)n * positions + p) * channels + c;
                    int nc = n * channels + c;
                    wantBiased[i] = x[i] + bias[c];
                    mean += x[i] / (double)positions;
                    wantSpread[i] = pooledGradient[nc] / positions;
                    accumulated[i] += pooledGradient[nc] / positions;
                    double pre = (double)x[i] * scale[nc], g = dy[i] * Slope(activation, pre);
                    wantScaled[i] = (float)Act(activation, pre);
                    wantDScaled[i] = (float)(g * scale[nc]);
                    gradient += g * x[i];
                    dBias[c] += dy[i];
                }
                wantPooled[n * channels + c] = (float)mean;
                wantDScale[n * channels + c] = (float)gradient;
            }
        Close(wantBiased, biased, "bias forward");
        Close(dBias, tdBias, "bias backward (accumulated)");
        Close(wantPooled, pooled, "global average pool");
        Close(wantSpread, spread, "global average pool backward");
        Close(accumulated, tAccumulated, "global average pool backward (accumulated)");
        Close(wantScaled, scaled, "channel scale");
        Close(wantDScaled, dScaled, "channel scale dx");
        Close(wantDScale, dScale, "channel scale dScale");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void SubsampleAndDropout(string name)
    {
        var backend = TestBackends.Get(name);
        const int batch = 2, depth = 2, height = 5, width = 7, channels = 3, stride = 2;
        int outHeight = (height + 1) / 2, outWidth = (width + 1) / 2;
        long count = (long)batch * depth * height * width * channels, sampledCount = (long)batch * depth * outHeight * outWidth * channels;
        var (x, dSampled) = (Values(count, 30), Values(sampledCount, 31));
        using var tx = Upload(backend, x, batch, depth, height, width, channels);
        using var tdSampled = Upload(backend, dSampled, batch, depth, outHeight, outWidth, channels);
        using Tensor sampled = backend.Allocate(batch, depth, outHeight, outWidth, channels), dx = backend.Allocate(batch, depth, height, width, channels);
        backend.SubsampleForward(sampled, tx, stride);
        backend.SubsampleBackward(dx, tdSampled, stride);
        var (wantSampled, wantDx) = (new float[sampledCount], new float[count]);
        for (int nd = 0; nd < batch * depth; nd++)
            for (int h = 0; h < outHeight; h++)
                for (int w = 0; w < outWidth; w++)
                    for (int c = 0; c < channels; c++)
                    {
                        long from = (((long)nd * height + h * stride) * width + w * stride) * channels + c;
                        long to = (((long)nd * outHeight + h) * outWidth + w) * channels + c;
                        wantSampled[to] = x[from];
                        wantDx[from] = dSampled[to];
                    }
        Close(wantSampled, sampled, "subsample");
        Close(wantDx, dx, "subsample backward");

        const float probability = 0.3f;
        const ulong seed = 77;
        using Tensor y = backend.Allocate((int)count), mask = backend.Allocate((int)count), dDropout = backend.Allocate((int)count);
        using var flat = tx.Reshape((int)count);
        backend.DropoutForward(y, mask, flat, probability, seed);
        backend.DropoutBackward(dDropout, flat, mask);
        var wantMask = Enumerable.Range(0, (int)count)
            .Select(i => CounterRandom.Uniform(seed, (ulong)i) < probability ? 0f : 1f / (1f - probability)).ToArray();
        Close(wantMask, mask, "dropout mask");
        Close([.. x.Select((v, i) => v * wantMask[i])], y, "dropout forward");
        Close([.. x.Select((v, i) => v * wantMask[i])], dDropout, "dropout backward");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void CrossEntropyWithSmoothingAndItsGradient(string name)
    {
        var backend = TestBackends.Get(name);
        const int batch = 5, classes = 7;
        const float smoothing = 0.1f;
        int[] labels = [6, 0, 3, 3, 1];
        var logits = Values(batch * classes, 32).Select(v => 3 * v).ToArray();
        using var tLogits = Upload(backend, logits, batch, classes);
        using var tLabels = GradientCheck.Labels(backend, labels);
        using Tensor meanLoss = backend.Allocate(1), losses = backend.Allocate(batch), probabilities = backend.Allocate(batch, classes), dLogits = backend.Allocate(batch, classes);
        backend.CrossEntropyForward(meanLoss, losses, probabilities, tLogits, tLabels, smoothing);
        backend.CrossEntropyBackward(dLogits, probabilities, tLabels, smoothing);
        var (wantLosses, wantP, wantD) = (new float[batch], new float[batch * classes], new float[batch * classes]);
        for (int n = 0; n < batch; n++)
        {
            var row = logits.Skip(n * classes).Take(classes).Select(v => (double)v).ToArray();
            double logSum = Math.Log(row.Sum(Math.Exp)), loss = 0;
            for (int k = 0; k < classes; k++)
            {
                double target = (k == labels[n] ? 1 - smoothing : 0) + smoothing / classes;
                loss -= target * (row[k] - logSum);
                wantP[n * classes + k] = (float)Math.Exp(row[k] - logSum);
                wantD[n * classes + k] = (float)((Math.Exp(row[k] - logSum) - target) / batch);
            }
            wantLosses[n] = (float)loss;
        }
        Close(wantLosses, losses, "per-sample losses");
        Close([(float)wantLosses.Average(v => (double)v)], meanLoss, "mean loss");
        Close(wantP, probabilities, "probabilities");
        Close(wantD, dLogits, "dLogits");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void OptimizersNormAndClipping(string name)
    {
        var backend = TestBackends.Get(name);
        const int count = 301;
        const float lr = 0.1f, momentum = 0.9f, decay = 0.01f, beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
        const long step = 3;
        var (p, g, buffer, m, v) = (Values(count, 33), Values(count, 34), Values(count, 35), Values(count, 36), Values(count, 37).Select(s => s * s).ToArray());
        using Tensor sgdP = Upload(backend, p, count), tg = Upload(backend, g, count), tBuffer = Upload(backend, buffer, count);
        using Tensor adamP = Upload(backend, p, count), tm = Upload(backend, m, count), tv = Upload(backend, v, count);
        backend.SgdStep(sgdP, tg, tBuffer, lr, momentum, decay);
        backend.AdamWStep(adamP, tg, tm, tv, lr, beta1, beta2, epsilon, decay, step);
        var (wantSgd, wantBuffer, wantAdam, wantM, wantV) = (new float[count], new float[count], new float[count], new float[count], new float[count]);
        for (int i = 0; i < count; i++)
        {
            double b = momentum * buffer[i] + g[i] + decay * p[i];
            (wantBuffer[i], wantSgd[i]) = ((float)b, (float)(p[i] - lr * b));
            double first = beta1 * m[i] + (1 - beta1) * g[i], second = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            (wantM[i], wantV[i]) = ((float)first, (float)second);
            wantAdam[i] = (float)(p[i] * (1 - lr * decay)
                - lr * (first / (1 - Math.Pow(beta1, step))) / (Math.Sqrt(second / (1 - Math.Pow(beta2, step))) + epsilon));
        }
        Close(wantSgd, sgdP, "SGD parameters");
        Close(wantBuffer, tBuffer, "SGD momentum");
        Close(wantAdam, adamP, "AdamW parameters");
        Close(wantM, tm, "AdamW first moment");
        Close(wantV, tv, "AdamW second moment");

        using var sum = backend.Allocate(1);
        backend.SumOfSquares(sum, tg);
        double norm = Math.Sqrt(g.Sum(x => (double)x * x));
        Close([(float)(norm * norm)], sum, "sum of squares");
        backend.ClipByNorm(tg, sum, (float)(2 * norm));
        Close(g, tg, "clipping below the limit leaves the gradients");
        backend.ClipByNorm(tg, sum, (float)(norm / 4));
        Close([.. g.Select(x => (float)(x * (norm / 4) / (norm + 1e-6)))], tg, "clipping above the limit");
    }
}
