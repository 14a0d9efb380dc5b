using ActionKit.Export.Graph;

namespace ActionKit.Export.Quantization;

/// <summary>
/// A weight behind a symmetric 255-level FakeQuantize, stored as POT and ONNX store it: int8 values
/// q = clamp(round(w / s), -127, 127) and a scale s = high / 127 per output channel (or one for the tensor), so
/// q · s is exactly what the FakeQuantize gives. <see cref="Values"/> are in the weight's [Cout, ...] order.
/// </summary>
public sealed record Int8Weight(GraphConstant Weight, sbyte[] Values, float[] Scales, bool PerChannel)
{
    /// <summary>The int8 form of <paramref name="quantize"/>, or null with <paramref name="why"/> when it has none.</summary>
    public static Int8Weight? TryCreate(ModelGraph graph, FakeQuantizeNode quantize, out string why)
    {
        why = "";
        if (!graph.IsConstant(quantize.Input) || !graph.IsConstant(quantize.Low) || !graph.IsConstant(quantize.High))
            return Fail(out why, "its input, low and high must be constants");
        var weight = graph.Constant(quantize.Input);
        var (low, high) = (graph.Constant(quantize.Low), graph.Constant(quantize.High));
        if (quantize.Levels != 255)
            return Fail(out why, $"a weight range needs 255 levels, not {quantize.Levels}");
        if (!low.Shape.SequenceEqual(high.Shape))
            return Fail(out why, "low and high have different shapes");
        bool perChannel = !high.Shape.SequenceEqual([1]);
        if (perChannel && (high.Shape.Length != weight.Shape.Length || high.Shape[0] != weight.Shape[0] || high.Shape.Skip(1).Any(d => d != 1)))
            return Fail(out why, $"range shape {ShapeInference.Format(high.Shape)} is neither [1] nor per output channel of weight {ShapeInference.Format(weight.Shape)}");
        for (int i = 0; i < high.Data.Length; i++)
        {
            if (!(high.Data[i] > 0))
                return Fail(out why, $"channel {i} has a high of {high.Data[i]}, which gives no scale");
            if (Math.Abs(low.Data[i] + high.Data[i]) > 1e-5 * high.Data[i])
                return Fail(out why, $"a weight range must be symmetric (low = -high), but channel {i} has [{low.Data[i]}, {high.Data[i]}]");
        }
        var scales = high.Data.Select(h => h / 127f).ToArray();
        long perScale = weight.Length / scales.Length;
        var values = new sbyte[weight.Length];
        for (long j = 0; j < weight.Length; j++)
            values[j] = (sbyte)Math.Clamp(MathF.Round(weight.Data[j] / scales[j / perScale], MidpointRounding.ToEven), -127f, 127f);
        return new Int8Weight(weight, values, scales, perChannel);
    }

    /// <summary>The high of a range whose scale (high / 127, as <see cref="TryCreate"/> computes it) is exactly <paramref name="scale"/>.</summary>
    public static float HighOf(float scale)
    {
        float high = 127f * scale;
        // 127 · s / 127 misses s by one unit in the last place for about 1 in 130 floats; a neighbour of 127 · s does not.
        foreach (float candidate in new[] { high, MathF.BitIncrement(high), MathF.BitDecrement(high) })
            if (candidate / 127f == scale)
                return candidate;
        return high;
    }

    /// <summary>q · s as floats (one scale, or one per equal run of values): the values the FakeQuantize gives the weight.</summary>
    public static float[] Dequantize(ReadOnlySpan<sbyte> values, float[] scales)
    {
        var result = new float[values.Length];
        int perScale = values.Length / scales.Length;
        for (int j = 0; j < values.Length; j++)
            result[j] = values[j] * scales[j / perScale];
        return result;
    }

    static Int8Weight? Fail(out string why, string reason)
    {
        why = reason;
        return null;
    }
}
