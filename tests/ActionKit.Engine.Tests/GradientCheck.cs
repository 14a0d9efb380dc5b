namespace ActionKit.Engine.Tests;

/// <summary>
/// Central finite differences of a scalar loss L = Σ r·y (r fixed random weights, accumulated in double) against
/// the analytic gradient. Compares whole tensors by relative L2 error and names the worst element on failure.
/// </summary>
static class GradientCheck
{
    public static float[] RandomValues(long count, ulong seed, double scale = 1.0)
    {
        var random = new DeterministicRandom(seed);
        var values = new float[count];
        for (long i = 0; i < count; i++)
            values[i] = (float)(random.NextGaussian() * scale);
        return values;
    }

    public static Tensor RandomTensor(IBackend backend, ulong seed, params int[] shape)
    {
        var t = backend.Allocate(shape);
        t.CopyFrom(RandomValues(t.Length, seed));
        return t;
    }

    public static Tensor Labels(IBackend backend, params int[] labels)
    {
        var t = backend.Allocate(DType.Int32, labels.Length);
        t.CopyFrom<int>(labels);
        return t;
    }

    /// <summary>The value of a one-element tensor (waits for the backend).</summary>
    public static float Scalar(Tensor t) => t.ToArray()[0];

    public static double WeightedSum(Tensor y, float[] weights)
    {
        var values = y.ToArray();
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
            sum += (double)values[i] * weights[i];
        return sum;
    }

    /// <summary>
    /// Checks <paramref name="analytic"/> (already computed) against finite differences of <paramref name="loss"/>
    /// with respect to the values of <paramref name="variable"/>, probing at most <paramref name="maxProbes"/> elements.
    /// </summary>
    /// <remarks>
    /// Errors are relative to the larger of the gradients' norm and <paramref name="noiseFloor"/> per probe: float32
    /// forward passes make the finite differences themselves noisy at about |L|·1e-7/step.
    /// </remarks>
    public static void Check(string name, Tensor variable, float[] analytic, Func<double> loss,
        double step = 1e-2, double tolerance = 1e-3, int maxProbes = 64, double noiseFloor = 0)
    {
        var values = variable.ToArray();
        int probes = (int)Math.Min(values.Length, maxProbes);
        var random = new DeterministicRandom(17);
        double diffSquares = 0, analyticSquares = 0, numericSquares = 0, worst = 0;
        string worstText = "";
        for (int p = 0; p < probes; p++)
        {
            int i = probes == values.Length ? p : random.NextInt(values.Length);
            double plus = LossAt(i, values[i] + step), minus = LossAt(i, values[i] - step);
            double numeric = (plus - minus) / (2 * step), a = analytic[i], diff = Math.Abs(a - numeric);
            diffSquares += diff * diff;
            analyticSquares += a * a;
            numericSquares += numeric * numeric;
            if (diff > worst)
            {
                worst = diff;
                worstText = $"element {i}: analytic {a:G6}, numeric {numeric:G6}";
            }
        }
        double scale = Math.Max(Math.Sqrt(Math.Max(analyticSquares, numericSquares)), noiseFloor * Math.Sqrt(probes));
        double relative = scale < 1e-12 ? Math.Sqrt(diffSquares) : Math.Sqrt(diffSquares) / scale;
        Assert.True(relative < tolerance,
            $"{name}: relative error {relative:E2} over {probes} probes (tolerance {tolerance:E0}); worst {worstText}; first analytic [{string.Join(", ", analytic.Take(4).Select(v => v.ToString("G4")))}]");

        double LossAt(int index, double value)
        {
            float original = values[index];
            values[index] = (float)value;
            variable.CopyFrom(values);
            double result = loss();
            values[index] = original;
            variable.CopyFrom(values);
            return result;
        }
    }

    /// <summary>
    /// Runs forward once, backward with dy = r, then checks dx (when the layer returns one) and the gradient of every
    /// trainable parameter in <paramref name="store"/> against finite differences.
    /// </summary>
    public static void CheckLayer(string name, ParameterStore store, Tensor x, Func<Tensor, Tensor> forward,
        Func<Tensor, Tensor?> backward, double step = 1e-2, double tolerance = 1e-3, double noiseFloor = 0, int maxProbes = 64)
    {
        var y = forward(x);
        var weights = RandomValues(y.Length, 99);
        using var dy = x.Backend.Allocate(y.Shape);
        dy.CopyFrom(weights);
        store.ZeroGradients();
        var dx = backward(dy)?.ToArray();
        var parameterGradients = store.Trainable.Select(p => (p, p.Gradient.ToArray())).ToList();
        double Loss() => WeightedSum(forward(x), weights);
        if (dx is not null)
            Check($"{name} dx", x, dx, Loss, step, tolerance, maxProbes, noiseFloor);
        foreach (var (p, gradient) in parameterGradients)
            Check($"{name} d{p.Name}", p.Value, gradient, Loss, step, tolerance, maxProbes, noiseFloor);
    }
}
