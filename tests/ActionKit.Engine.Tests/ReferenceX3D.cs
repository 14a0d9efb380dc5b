using ActionKit.Engine.Models;
using ActionKit.Kernels.Cpu;

namespace ActionKit.Engine.Tests;

/// <summary>A channels-last array of doubles for the reference implementation.</summary>
sealed record Nd(double[] Data, int[] Shape)
{
    public static Nd Zeros(params int[] shape) => new(new double[Tensor.ElementCount(shape)], shape);
}

/// <summary>
/// X3D forward in double precision with plain loops, independent of the engine's kernels: the oracle for the
/// engine's forward values and, through finite differences (no float32 noise), for its whole-network gradients.
/// </summary>
static class ReferenceX3D
{
    public static double[] Logits(X3DConfig config, Func<string, double[]> parameter, Nd clips, ulong dropoutSeed)
    {
        var h = Convolution(clips, parameter("stem.0.weight"), config.StemWidth, (1, 3, 3), (1, 2, 2), (0, 1, 1), groups: 1);
        h = Convolution(h, parameter("stem.1.weight"), config.StemWidth, (5, 1, 1), (1, 1, 1), (2, 0, 0), groups: config.StemWidth);
        h = BatchNorm(h, parameter, "stem.2", config.BatchNormEpsilon, relu: true);
        int channels = config.StemWidth, index = 0;
        for (int stage = 0; stage < config.Widths.Length; stage++)
            for (int i = 0; i < config.Depths[stage]; i++, index++)
            {
                int width = config.Widths[stage], inner = config.InnerWidth(width), stride = i == 0 ? 2 : 1;
                h = Block(h, parameter, $"blocks.{index}", config, channels, inner, width, stride, squeeze: i % config.SeEvery == 0);
                channels = width;
            }
        h = BatchNorm(Convolution(h, parameter("conv5.0.weight"), config.HeadWidth, (1, 1, 1), (1, 1, 1), (0, 0, 0), 1),
            parameter, "conv5.1", config.BatchNormEpsilon, relu: true);
        var hidden = Map(Linear(Pool(h), parameter("fc1.weight"), null, config.HeadHidden), v => Math.Max(v, 0));
        for (int i = 0; i < hidden.Data.Length; i++)
            hidden.Data[i] *= CounterRandom.Uniform(dropoutSeed, (ulong)i) < config.Dropout ? 0 : 1.0 / (1.0 - config.Dropout);
        return Linear(hidden, parameter("fc2.weight"), parameter("fc2.bias"), config.NumClasses).Data;
    }

    static Nd Block(Nd x, Func<string, double[]> p, string name, X3DConfig config, int inChannels, int inner, int outChannels,
        int stride, bool squeeze)
    {
        double eps = config.BatchNormEpsilon;
        var h = BatchNorm(Convolution(x, p($"{name}.a.0.weight"), inner, (1, 1, 1), (1, 1, 1), (0, 0, 0), 1), p, $"{name}.a.1", eps, relu: true);
        h = BatchNorm(Convolution(h, p($"{name}.b.weight"), inner, (3, 3, 3), (1, stride, stride), (1, 1, 1), inner), p, $"{name}.b_bn", eps, relu: false);
        if (squeeze)
        {
            int reduced = config.SqueezeWidth(inner);
            var gate = Map(Linear(Pool(h), p($"{name}.se.fc1.weight"), p($"{name}.se.fc1.bias"), reduced), v => Math.Max(v, 0));
            gate = Map(Linear(gate, p($"{name}.se.fc2.weight"), p($"{name}.se.fc2.bias"), inner), v => 1 / (1 + Math.Exp(-v)));
            long positions = h.Data.Length / h.Shape[0] / inner;
            for (long i = 0; i < h.Data.Length; i++)
                h.Data[i] *= gate.Data[i / (positions * inner) * inner + i % inner];
        }
        h = Map(h, v => v / (1 + Math.Exp(-v)));
        h = BatchNorm(Convolution(h, p($"{name}.c.0.weight"), outChannels, (1, 1, 1), (1, 1, 1), (0, 0, 0), 1), p, $"{name}.c.1", eps, relu: false);
        var skip = inChannels == outChannels && stride == 1 ? x
            : BatchNorm(Convolution(x, p($"{name}.short.0.weight"), outChannels, (1, 1, 1), (1, stride, stride), (0, 0, 0), 1), p, $"{name}.short.1", eps, relu: false);
        var sum = Nd.Zeros(h.Shape);
        for (int i = 0; i < sum.Data.Length; i++)
            sum.Data[i] = Math.Max(h.Data[i] + skip.Data[i], 0);
        return sum;
    }

    /// <summary>Grouped 3-D convolution (groups 1 or C), weight in PyTorch layout [Cout, Cin/groups, kD, kH, kW].</summary>
    public static Nd Convolution(Nd x, double[] w, int outChannels, (int D, int H, int W) k, (int D, int H, int W) s,
        (int D, int H, int W) p, int groups)
    {
        int n = x.Shape[0], d = x.Shape[1], hh = x.Shape[2], ww = x.Shape[3], cin = x.Shape[4];
        int od = (d + 2 * p.D - k.D) / s.D + 1, oh = (hh + 2 * p.H - k.H) / s.H + 1, ow = (ww + 2 * p.W - k.W) / s.W + 1;
        int perGroupIn = cin / groups, perGroupOut = outChannels / groups;
        var y = Nd.Zeros(n, od, oh, ow, outChannels);
        for (int b = 0; b < n; b++)
            for (int z = 0; z < od; z++)
                for (int r = 0; r < oh; r++)
                    for (int c = 0; c < ow; c++)
                        for (int o = 0; o < outChannels; o++)
                        {
                            double sum = 0;
                            int group = o / perGroupOut;
                            for (int i = 0; i < perGroupIn; i++)
                                for (int kz = 0; kz < k.D; kz++)
                                    for (int ky = 0; ky < k.H; ky++)
                                        for (int kx = 0; kx < k.W; kx++)
                                        {
                                            int iz = z * s.D - p.D + kz, iy = r * s.H - p.H + ky, ix = c * s.W - p.W + kx;
                                            if (iz < 0 || iz >= d || iy < 0 || iy >= hh || ix < 0 || ix >= ww)
                                                continue;
                                            int channel = group * perGroupIn + i;
                                            sum += x.Data[(((b * d + iz) * hh + iy) * ww + ix) * cin + channel]
                                                * w[(((o * perGroupIn + i) * k.D + kz) * k.H + ky) * k.W + kx];
                                        }
                            y.Data[(((b * od + z) * oh + r) * ow + c) * outChannels + o] = sum;
                        }
        return y;
    }

    /// <summary>Training-mode batch normalization with biased batch variance, as PyTorch normalizes.</summary>
    public static Nd BatchNorm(Nd x, Func<string, double[]> p, string name, double eps, bool relu)
    {
        double[] gamma = p($"{name}.weight"), beta = p($"{name}.bias");
        int channels = gamma.Length;
        long rows = x.Data.Length / channels;
        var y = Nd.Zeros(x.Shape);
        for (int c = 0; c < channels; c++)
        {
            double mean = 0, variance = 0;
            for (long r = 0; r < rows; r++)
                mean += x.Data[r * channels + c] / rows;
            for (long r = 0; r < rows; r++)
                variance += Math.Pow(x.Data[r * channels + c] - mean, 2) / rows;
            for (long r = 0; r < rows; r++)
            {
                double v = gamma[c] * (x.Data[r * channels + c] - mean) / Math.Sqrt(variance + eps) + beta[c];
                y.Data[r * channels + c] = relu ? Math.Max(v, 0) : v;
            }
        }
        return y;
    }

    public static Nd Pool(Nd x)
    {
        int n = x.Shape[0], c = x.Shape[^1];
        long positions = x.Data.Length / n / c;
        var y = Nd.Zeros(n, c);
        for (long i = 0; i < x.Data.Length; i++)
            y.Data[i / (positions * c) * c + i % c] += x.Data[i] / positions;
        return y;
    }

    public static Nd Linear(Nd x, double[] w, double[]? bias, int outFeatures)
    {
        int inFeatures = x.Shape[^1], rows = x.Data.Length / inFeatures;
        var y = Nd.Zeros(rows, outFeatures);
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outFeatures; o++)
            {
                double sum = bias?[o] ?? 0;
                for (int i = 0; i < inFeatures; i++)
                    sum += x.Data[r * inFeatures + i] * w[o * inFeatures + i];
                y.Data[r * outFeatures + o] = sum;
            }
        return y;
    }

    static Nd Map(Nd x, Func<double, double> f) => new(x.Data.Select(f).ToArray(), x.Shape);
}
