using ActionKit.Kernels.Cpu;

namespace ActionKit.Kernels.Tests;

public unsafe class Int8KernelTests
{
    /// <summary>Every integer path this CPU runs (tests force each one).</summary>
    public static TheoryData<Int8Path> Paths => [.. TestArrays.Int8Paths];

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 3, 5, 7 }, { 4, 16, 2 }, { 9, 17, 33 }, { 130, 48, 24 }, { 67, 108, 216 }, { 5, 432, 1 },
    };

    /// <summary>The plain-loop integer reference: c[r, o] = Σ_i a[r, i] · b[o, i] in s32.</summary>
    static int[] Reference(int[] a, sbyte[] b, int m, int n, int k)
    {
        var c = new int[m * n];
        for (int r = 0; r < m; r++)
            for (int o = 0; o < n; o++)
            {
                int sum = 0;
                for (int i = 0; i < k; i++)
                    sum += a[r * k + i] * b[o * k + i];
                c[r * n + o] = sum;
            }
        return c;
    }

    // The path's GEMM on codes a (all u8 0..255, or all s8 -128..127: one FakeQuantize's range per call), given as
    // floats on a grid of step 1 so that they are their own codes, or as the byte codes themselves (rows of k bytes,
    // whose last quad the VNNI path reads into the next row), followed by bytes that must not matter.
    static int[] Run(Int8Path path, int[] a, sbyte[] b, int m, int n, int k, bool asCodes = false)
    {
        bool signed = a.Any(code => code < 0);
        int width = Int8Gemm.PaddedWidth(n);
        var x = a.Select(code => (float)code).ToArray();
        var bytes = a.Select(code => (byte)(code + (signed ? 128 : 0))).Concat(new byte[] { 255, 255, 255 }).ToArray();
        var weights = Int8Gemm.Pack(b, n, k);
        var c = Enumerable.Repeat(int.MinValue, m * width).ToArray();
        var saved = Int8Gemm.Path;
        try
        {
            Int8Gemm.Path = path;
            fixed (int* pc = c)
            fixed (float* px = x)
            fixed (byte* pb = bytes)
                Int8Gemm.Multiply(pc, asCodes
                    ? Int8Tensor.AsCodes(pb, 1f, signed ? -128 : 0, signed ? 127 : 255)
                    : Int8Tensor.OnGrid(px, 1f, signed ? -128 : 0, signed ? 127 : 255), weights, m);
        }
        finally
        {
            Int8Gemm.Path = saved;
        }
        return [.. Enumerable.Range(0, m * n).Select(j => c[j / n * width + j % n])];
    }

    /// <summary>
    /// A dense convolution over gathered taps (X3D's stem: 3 channels, 1x3x3, stride 2, padding 1; and an uneven 3-D
    /// kernel) equals plain integer loops exactly on every path, u8 and s8 codes, padding counted as level 0.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void GatheredConvolutionEqualsThePlainIntegerLoopsExactly(Int8Path path)
    {
        foreach (var g in new[] { new ConvGeometry(2, 3, 9, 11, 3, 24, 1, 3, 3, 1, 2, 2, 0, 1, 1), new ConvGeometry(1, 4, 5, 6, 5, 7, 2, 3, 2, 1, 1, 2, 1, 0, 1) })
            foreach (bool signed in new[] { false, true })
            {
                var random = new Random(g.GetHashCode() + (signed ? 1 : 0));
                var levels = Enumerable.Range(0, (int)g.InputLength).Select(_ => signed ? random.Next(-128, 128) : random.Next(256)).ToArray();
                var weights = Enumerable.Range(0, g.OutChannels * g.InChannels * g.KernelVolume).Select(_ => (sbyte)random.Next(-127, 128)).ToArray();
                var want = new float[g.OutputLength];
                for (long p = 0; p < g.OutputLength / g.OutChannels; p++)
                {
                    int ox = (int)(p % g.OutWidth), oy = (int)(p / g.OutWidth % g.OutHeight), oz = (int)(p / g.OutWidth / g.OutHeight % g.OutDepth);
                    long n = p / g.OutWidth / g.OutHeight / g.OutDepth;
                    for (int o = 0; o < g.OutChannels; o++)
                    {
                        int sum = 0;
                        for (int i = 0; i < g.InChannels; i++)
                            for (int tap = 0; tap < g.KernelVolume; tap++)
                            {
                                int kx = tap % g.KernelWidth, ky = tap / g.KernelWidth % g.KernelHeight, kz = tap / g.KernelWidth / g.KernelHeight;
                                int iz = oz * g.StrideDepth - g.PadDepth + kz, iy = oy * g.StrideHeight - g.PadHeight + ky, ix = ox * g.StrideWidth - g.PadWidth + kx;
                                if (iz >= 0 && iz < g.InDepth && iy >= 0 && iy < g.InHeight && ix >= 0 && ix < g.InWidth)
                                    sum += levels[(((n * g.InDepth + iz) * g.InHeight + iy) * g.InWidth + ix) * g.InChannels + i] * weights[(o * g.InChannels + i) * g.KernelVolume + tap];
                            }
                        want[p * g.OutChannels + o] = sum;
                    }
                }
                // 16 bytes of slack after the codes, as the executor's code slots have.
                var codes = levels.Select(level => (byte)(level + (signed ? 128 : 0))).Concat(new byte[16]).ToArray();
                var got = new float[g.OutputLength];
                var multiplier = Enumerable.Repeat(1f, g.OutChannels).ToArray();
                var saved = Int8Gemm.Path;
                try
                {
                    Int8Gemm.Path = path;
                    fixed (byte* pc = codes)
                    fixed (float* py = got, pm = multiplier)
                        Int8Gemm.ConvolveGathered(Int8Tensor.Floats(py), Int8Tensor.AsCodes(pc, 1f, signed ? -128 : 0, signed ? 127 : 255),
                            Int8Gemm.PackGathered(weights, g.OutChannels, g.InChannels, g.KernelVolume), pm, null, g, Activation.None);
                }
                finally
                {
                    Int8Gemm.Path = saved;
                }
                Assert.Equal(want, got);
            }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void GemmEqualsThePlainIntegerLoopsExactly(Int8Path path)
    {
        foreach (var row in Shapes)
            foreach (bool signed in new[] { false, true })
            {
                var (m, n, k) = ((int)row[0], (int)row[1], (int)row[2]);
                var random = new Random(m * 131 + n * 7 + k);
                var a = Enumerable.Range(0, m * k).Select(_ => signed ? random.Next(-128, 128) : random.Next(256)).ToArray();
                if (signed)
                    a[0] = -128; // marks the call as s8 even where the draw has no negative code
                var b = Enumerable.Range(0, n * k).Select(_ => (sbyte)random.Next(-127, 128)).ToArray();
                Assert.Equal(Reference(a, b, m, n, k), Run(path, a, b, m, n, k));
                Assert.Equal(Reference(a, b, m, n, k), Run(path, a, b, m, n, k, asCodes: true));
            }
    }

    /// <summary>
    /// The corners of u8 · s8 and s8 · s8: codes 255 (u8) or -128 and 127 (s8) against ±127 and -128 on every k, where
    /// vpmaddubsw's 16-bit pair sums would saturate (2 · 255 · 127 = 64770 > 32767), and where the shift of s8 codes
    /// into u8 reaches 255; a deep k whose s32 sum reaches 255 · 128 · 4000.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void SaturationEdgesAreExact(Int8Path path)
    {
        foreach (sbyte weight in new sbyte[] { 127, -127, -128 })
            foreach (int k in new[] { 2, 3, 4000 })
                foreach (bool signed in new[] { false, true })
                {
                    int m = 5, n = 17;
                    var a = Enumerable.Range(0, m * k).Select(j => !signed ? 255 : j / k == 4 ? 127 : -128).ToArray();
                    // Channel 3 takes the opposite sign, so one panel holds both extremes.
                    var b = Enumerable.Range(0, n * k).Select(j => j / k == 3 ? (sbyte)Math.Min(127, -weight) : weight).ToArray();
                    var want = Reference(a, b, m, n, k);
                    Assert.Equal((signed ? -128 : 255) * weight * k, want[0]);
                    Assert.Equal(want, Run(path, a, b, m, n, k));
                    Assert.Equal(want, Run(path, a, b, m, n, k, asCodes: true));
                }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CodesAreTheFakeQuantizeLevels(bool signed)
    {
        const int rows = 3, k = 27, depth = 28; // 16 + 8 + 3: every step of the vector loop
        float step = 0.037f, high = signed ? 127 * step : 255 * step, low = signed ? -high * 128 / 127 : 0;
        step = (high - low) / 255;
        var random = new Random(4);
        var x = Enumerable.Range(0, rows * k).Select(_ => (random.NextSingle() * 12 - 2)).ToArray();
        x[0] = 255.5f * step;
        x[1] = -0.5f * step;
        x[2] = 2.5f * step;
        x[3] = -200 * step;
        var codes = Enumerable.Repeat((short)999, rows * depth).ToArray();
        fixed (short* pc = codes)
        fixed (float* px = x)
            Requantize.ToCodes(pc, px, step, MathF.Round(low / step), MathF.Round(high / step), rows, k, depth);
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < k; i++)
                Assert.Equal(FakeQuantize.Apply(x[r * k + i], low, high, 256), codes[r * depth + i] * step);
            Assert.Equal(0, codes[r * depth + k]);
        }
        Assert.Equal(2, codes[2]);
        Assert.Equal(signed ? -128 : 0, codes[3]);
    }

    [Theory]
    [InlineData(Activation.None)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Swish)]
    public void SumsBecomeFloatWithScaleBiasAndActivation(Activation activation)
    {
        const int rows = 70, n = 21, width = 32;
        var random = new Random((int)activation);
        var c = Enumerable.Range(0, rows * width).Select(_ => random.Next(-100000, 100000)).ToArray();
        var multiplier = Enumerable.Range(0, n).Select(_ => random.NextSingle() * 1e-4f).ToArray();
        var bias = Enumerable.Range(0, n).Select(_ => random.NextSingle() - 0.5f).ToArray();
        foreach (int vectorWidth in TestArrays.Widths)
        {
            var y = new float[rows * n];
            TestArrays.With(vectorWidth, 2, () =>
            {
                fixed (float* py = y, pm = multiplier, pb = bias)
                fixed (int* pc = c)
                    Requantize.Store(Int8Tensor.Floats(py), pc, pm, pb, rows, n, width, activation);
            });
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < n; o++)
                {
                    float v = c[r * width + o] * multiplier[o] + bias[o];
                    float want = activation switch { Activation.Relu => MathF.Max(v, 0), Activation.Swish => v / (1 + MathF.Exp(-v)), _ => v };
                    Assert.Equal(want, y[r * n + o], 1e-5f);
                }
        }
    }

    /// <summary>
    /// The vector grid divides by multiplying with the step's reciprocal and correcting (Markstein): the levels match a
    /// division on values at, and one or two units in the last place either side of, every tie between two levels, for
    /// steps drawn across twenty binary orders of magnitude.
    /// </summary>
    [Fact]
    public void TheReciprocalGridMatchesADivisionAtTheTies()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 300; trial++)
        {
            float step = random.NextSingle() * MathF.Pow(2, random.Next(-16, 4)) + 1e-7f, low = trial % 2 == 0 ? 0 : -128 * step, high = low + 255 * step;
            step = (high - low) / 255;
            var x = Enumerable.Range(0, 1200).Select(i => BitConverter.Int32BitsToSingle(
                BitConverter.SingleToInt32Bits((random.Next(-140, 270) + 0.5f) * step) + i % 5 - 2)).ToArray();
            var y = new float[x.Length];
            fixed (float* px = x, py = y)
                FakeQuantize.OnGrid(py, px, step, MathF.Round(low / step), MathF.Round(high / step), x.Length);
            for (int i = 0; i < x.Length; i++)
                Assert.True(FakeQuantize.Apply(x[i], low, high, 256) == y[i], $"step {step:R}, x {x[i]:R}: {y[i]:R}, a division gives {FakeQuantize.Apply(x[i], low, high, 256):R}");
        }
    }

    /// <summary>
    /// A residual join on codes gives, value for value, what the FakeQuantize executor computes from the floats on the
    /// grids: a.fq + b.fq, ReLU, then the output's FakeQuantize (as floats on its grid and as its codes).
    /// </summary>
    [Theory]
    [InlineData(Activation.None)]
    [InlineData(Activation.Relu)]
    public void TheQuantizedAddIsTheFakeQuantizeExecutorsSum(Activation activation)
    {
        const int count = 4100; // a chunk of 4096, then 4 values for the scalar loop
        var random = new Random(9);
        var (aCodes, bCodes) = (new byte[count], new byte[count]);
        random.NextBytes(aCodes);
        random.NextBytes(bCodes);
        const float aStep = 0.021f, bStep = 0.017f, yStep = 0.03f;
        // a is u8, b s8 (stored shifted by 128), y s8.
        var aFloats = aCodes.Select(code => code * aStep).ToArray();
        var bFloats = bCodes.Select(code => (code - 128) * bStep).ToArray();
        var want = aFloats.Zip(bFloats, (x, y) => activation == Activation.Relu ? MathF.Max(x + y, 0) : x + y)
            .Select(sum => FakeQuantize.Apply(sum, -128 * yStep, 127 * yStep, 256)).ToArray();
        // Every vector width: the 16-wide one-pass path and the 8-wide chunked one.
        foreach (int width in TestArrays.Widths)
        {
            var (onGrid, codes, fromFloats) = (new float[count], new byte[count], new float[count]);
            TestArrays.With(width, 2, () =>
            {
                fixed (byte* pa = aCodes, pb = bCodes, pc = codes)
                fixed (float* fa = aFloats, fb = bFloats, py = onGrid, pf = fromFloats)
                {
                    var (a, b) = (Int8Tensor.AsCodes(pa, aStep, 0, 255), Int8Tensor.AsCodes(pb, bStep, -128, 127));
                    QuantizedAdd.Forward(Int8Tensor.OnGrid(py, yStep, -128, 127), a, b, count, activation);
                    QuantizedAdd.Forward(Int8Tensor.AsCodes(pc, yStep, -128, 127), a, b, count, activation);
                    QuantizedAdd.Forward(Int8Tensor.OnGrid(pf, yStep, -128, 127), Int8Tensor.OnGrid(fa, aStep, 0, 255), Int8Tensor.OnGrid(fb, bStep, -128, 127), count, activation);
                }
            });
            Assert.Equal(want, onGrid);
            Assert.Equal(want, fromFloats);
            Assert.Equal(want, codes.Select(code => (code - 128) * yStep));
        }
    }

    /// <summary>
    /// The quantized gate gives what the FakeQuantize executor's three steps give: the input's FakeQuantize, the
    /// per-clip product with its activation (<see cref="ChannelScale.Forward"/>), the output's FakeQuantize; as floats on
    /// the output grid and as its codes, from the input as floats and as its codes (u8 and s8).
    /// </summary>
    [Theory]
    [InlineData(Activation.None)]
    [InlineData(Activation.Swish)]
    public void TheQuantizedGateIsTheFakeQuantizeExecutorsThreeSteps(Activation activation)
    {
        const int batch = 2, positions = 67, channels = 21;
        var random = new Random(13);
        var x = Enumerable.Range(0, batch * positions * channels).Select(_ => random.NextSingle() * 6 - 3).ToArray();
        var gate = Enumerable.Range(0, batch * channels).Select(_ => random.NextSingle()).ToArray();
        const float xStep = 0.025f, yStep = 0.02f;
        // At every vector width, against the executor's steps at the same width (Swish's reciprocal estimate is the
        // width's own).
        foreach (int width in TestArrays.Widths)
            foreach (var (lowest, highest) in new[] { (-128f, 127f), (0f, 255f) })
            {
                var want = new float[x.Length];
                var (onGrid, codes, fromCodes) = (new float[x.Length], new byte[x.Length], new float[x.Length]);
                int shift = lowest < 0 ? 128 : 0;
                var inputCodes = x.Select(v => (byte)(Math.Clamp(MathF.Round(v / xStep), lowest, highest) + shift)).ToArray();
                TestArrays.With(width, 2, () =>
                {
                    fixed (float* px = x, pg = gate, pw = want, py = onGrid, pf = fromCodes)
                    fixed (byte* pc = codes, pi = inputCodes)
                    {
                        FakeQuantize.OnGrid(pw, px, xStep, lowest, highest, x.Length);
                        ChannelScale.Forward(pw, pw, pg, batch, positions, channels, activation);
                        FakeQuantize.OnGrid(pw, pw, yStep, -128, 127, x.Length);
                        var input = Int8Tensor.OnGrid(px, xStep, lowest, highest);
                        ChannelScale.ForwardQuantized(Int8Tensor.OnGrid(py, yStep, -128, 127), input, pg, batch, positions, channels, activation);
                        ChannelScale.ForwardQuantized(Int8Tensor.AsCodes(pc, yStep, -128, 127), input, pg, batch, positions, channels, activation);
                        var asCodes = Int8Tensor.AsCodes(pi, xStep, lowest, highest);
                        ChannelScale.ForwardQuantized(Int8Tensor.OnGrid(pf, yStep, -128, 127), asCodes, pg, batch, positions, channels, activation);
                    }
                });
                Assert.Equal(want, onGrid);
                Assert.Equal(want, codes.Select(code => (code - 128) * yStep));
                Assert.Equal(want, fromCodes);
            }
    }

    /// <summary>
    /// The clip's normalization into codes is BatchNorm's inference pass (unit variance, zero mean: the executor's
    /// affine step) followed by the FakeQuantize grid, value for value: RGB and a wider tensor, rows that leave a tail,
    /// u8 and s8, at every vector width of the affine pass it stands for.
    /// </summary>
    [Theory]
    [InlineData(3, 1001)]
    [InlineData(21, 67)]
    public void TheAffinePassIntoCodesIsTheAffineStepThenItsFakeQuantize(int channels, int rows)
    {
        var random = new Random(channels);
        var x = Enumerable.Range(0, rows * channels).Select(_ => random.NextSingle() * 300 - 20).ToArray();
        var scale = Enumerable.Range(0, channels).Select(_ => 0.004f + random.NextSingle() * 0.01f).ToArray();
        var shift = Enumerable.Range(0, channels).Select(_ => random.NextSingle() - 0.5f).ToArray();
        var (mean, variance) = (new float[channels], Enumerable.Repeat(1f, channels).ToArray());
        const float step = 0.009f;
        foreach (int width in TestArrays.Widths)
            foreach (var (lowest, highest) in new[] { (0f, 255f), (-128f, 127f) })
            {
                var (affine, codes) = (new float[x.Length], new byte[x.Length]);
                TestArrays.With(width, 2, () =>
                {
                    fixed (float* px = x, ps = scale, pt = shift, pm = mean, pv = variance, pa = affine)
                    fixed (byte* pc = codes)
                    {
                        BatchNorm.ForwardInference(pa, px, ps, pt, pm, pv, rows, channels, 0f, Activation.None);
                        Requantize.AffineToCodes(Int8Tensor.AsCodes(pc, step, lowest, highest), px, ps, pt, rows, channels);
                    }
                });
                int shiftCode = lowest < 0 ? 128 : 0;
                for (int i = 0; i < x.Length; i++)
                    Assert.True(codes[i] - shiftCode == Math.Clamp(MathF.Round(affine[i] / step), lowest, highest),
                        $"width {width}, value {i}: code {codes[i]} for {affine[i]}");
            }
    }

    [Fact]
    public void TheVectorGridIsFakeQuantizeValueForValue()
    {
        var random = new Random(11);
        float high = 2.5f, low = -high * 128 / 127, step = (high - low) / 255;
        var x = Enumerable.Range(0, 1003).Select(i => i % 5 == 0 ? (i / 5 - 100 + 0.5f) * step : random.NextSingle() * 8 - 4).ToArray();
        var y = new float[x.Length];
        fixed (float* px = x, py = y)
            FakeQuantize.OnGrid(py, px, step, MathF.Round(low / step), MathF.Round(high / step), x.Length);
        Assert.Equal(x.Select(v => FakeQuantize.Apply(v, low, high, 256)), y);
    }
}
