using System.Numerics.Tensors;
using ActionKit.Export.Graph;
using ActionKit.Export.Runtime;

namespace ActionKit.Export.Quantization;

/// <summary>One calibration batch in the graph input's layout (e.g. [N, 1, 3, T, H, W]) and its batch size.</summary>
public readonly record struct CalibrationBatch(float[] Input, int Batch);

/// <summary>What the quantizer decided for one convolution or fully connected layer.</summary>
public sealed record QuantizedLayer(string Name, string Input, float InputLow, float InputHigh, int OutputChannels,
    float MaxWeightRange, double MaxBiasShift);

/// <summary>A quantized graph, the per-layer record of how it was quantized, and every activation it quantizes with its range.</summary>
public sealed record QuantizationResult(ModelGraph Graph, IReadOnlyList<QuantizedLayer> Layers,
    IReadOnlyList<QuantizedActivation> Activations, int CalibrationClips);

/// <summary>One activation's per-tensor FakeQuantize range.</summary>
public sealed record QuantizedActivation(string Value, float Low, float High);

/// <summary>
/// Post-training INT8 quantization with POT DefaultQuantization's semantics, preset "performance"
/// (reference/openvino-ir.md): every Conv and Linear gets a FakeQuantize on its weights (per output channel,
/// symmetric, 255 levels) and on its input activation, as do both inputs of an Add or Multiply of two computed
/// values (per tensor, 256 levels; unsigned when the activation was never negative on the calibration set, else
/// symmetric signed). Activation ranges: the minimum of the per-batch minima and
/// the mean of the per-batch absolute maxima. Then fast bias correction: each layer's bias absorbs the difference
/// between its float and its quantized mean output, evaluated on the mean of its float and quantized inputs.
/// </summary>
public static class PostTrainingQuantizer
{
    /// <summary>
    /// Quantizes <paramref name="graph"/> with statistics from <paramref name="calibration"/>, which is enumerated
    /// twice (ranges, then the means that bias correction needs). <paramref name="progress"/> counts batches of both passes.
    /// </summary>
    public static QuantizationResult Quantize(ModelGraph graph, IReadOnlyList<CalibrationBatch> calibration,
        bool fastBiasCorrection = true, IProgress<int>? progress = null)
    {
        if (calibration.Count == 0)
            throw new ArgumentException("Quantization needs at least one calibration batch.");
        var layers = graph.Nodes.Where(node => node is ConvNode or LinearNode).ToList();
        var inputs = layers.Select(LayerInput).Concat(graph.Nodes.SelectMany(node => ElementwiseInputs(graph, node))).Distinct().ToList();
        var executor = new GraphExecutor(graph);
        var ranges = MeasureRanges(executor, inputs, calibration, progress);

        var constants = graph.Constants.ToList();
        var quantizedWeights = layers.ToDictionary(layer => layer.Name, layer => QuantizeWeight(graph.Constant(LayerWeight(layer))));
        var shifts = fastBiasCorrection
            ? BiasShifts(graph, executor, layers, ranges, quantizedWeights, calibration, progress)
            : [];

        var nodes = new List<GraphNode>();
        var quantizedValues = new HashSet<string>();
        var records = new List<QuantizedLayer>();
        string Quantized(string value)
        {
            if (quantizedValues.Add(value))
            {
                var (low, high) = ranges[value];
                constants.Add(new GraphConstant($"{value}.fq_low", [1], [low]));
                constants.Add(new GraphConstant($"{value}.fq_high", [1], [high]));
                nodes.Add(new FakeQuantizeNode($"{value}.fq", $"{value}.fq", value, $"{value}.fq_low", $"{value}.fq_high", 256));
            }
            return $"{value}.fq";
        }
        foreach (var node in graph.Nodes)
        {
            if (node is AddNode or MulNode)
            {
                var quantizedInputs = ElementwiseInputs(graph, node).ToHashSet();
                string Input(string value) => quantizedInputs.Contains(value) ? Quantized(value) : value;
                nodes.Add(node switch
                {
                    AddNode add => add with { A = Input(add.A), B = Input(add.B) },
                    MulNode mul => mul with { A = Input(mul.A), B = Input(mul.B) },
                    _ => node,
                });
                continue;
            }
            if (node is not (ConvNode or LinearNode))
            {
                nodes.Add(node);
                continue;
            }
            string input = LayerInput(node), weight = LayerWeight(node);
            var (low, high) = ranges[input];
            Quantized(input);
            var (weightLow, weightHigh, weightRangeShape) = quantizedWeights[node.Name];
            constants.Add(new GraphConstant($"{weight}.fq_low", weightRangeShape, weightLow));
            constants.Add(new GraphConstant($"{weight}.fq_high", weightRangeShape, weightHigh));
            nodes.Add(new FakeQuantizeNode($"{weight}.fq", $"{weight}.fq", weight, $"{weight}.fq_low", $"{weight}.fq_high", 255));

            string? bias = LayerBias(node);
            double maxShift = 0;
            if (bias is not null && shifts.TryGetValue(node.Name, out var shift))
            {
                var original = graph.Constant(bias);
                int index = constants.FindIndex(c => c.Name == bias);
                var corrected = original.Data.Select((b, o) => b + shift[o]).ToArray();
                constants[index] = original with { Data = corrected };
                maxShift = shift.Max(Math.Abs);
            }
            nodes.Add(node switch
            {
                ConvNode conv => conv with { Input = $"{input}.fq", Weight = $"{weight}.fq" },
                LinearNode linear => linear with { Input = $"{input}.fq", Weight = $"{weight}.fq" },
                _ => node,
            });
            records.Add(new QuantizedLayer(node.Name, input, low, high, weightHigh.Length, weightHigh.Max(), maxShift));
        }
        var metadata = new Dictionary<string, string>(graph.Metadata)
        {
            ["quantization"] = $"INT8 post-training, POT DefaultQuantization preset performance, {calibration.Sum(b => b.Batch)} calibration clips, fast bias correction {(fastBiasCorrection ? "on" : "off")}",
        };
        var quantized = new ModelGraph(graph.Name + "_int8", graph.Input, graph.Output, nodes, constants, metadata);
        var activations = nodes.OfType<FakeQuantizeNode>().Where(fq => quantizedValues.Contains(fq.Input))
            .Select(fq => new QuantizedActivation(fq.Input, ranges[fq.Input].Low, ranges[fq.Input].High)).ToList();
        return new QuantizationResult(quantized, records, activations, calibration.Sum(b => b.Batch));
    }

    /// <summary>
    /// <paramref name="quantized"/> (what Quantize made of <paramref name="original"/>) with the named
    /// Conv and Linear layers back in float: their original node (float weight, uncorrected bias) in place of the
    /// quantized one, and every FakeQuantize that no longer has a reader dropped with its ranges.
    /// </summary>
    public static ModelGraph Revert(ModelGraph quantized, ModelGraph original, IReadOnlySet<string> layers)
    {
        var originals = original.Nodes.Where(node => layers.Contains(node.Name)).ToDictionary(node => node.Name);
        if (originals.Count != layers.Count)
            throw new ArgumentException($"Graph '{original.Name}' has no layer {string.Join(", ", layers.Where(name => !originals.ContainsKey(name)))}.");
        var nodes = quantized.Nodes.Select(node => originals.GetValueOrDefault(node.Name, node)).ToList();
        // Drop unread FakeQuantizes until none is left (a weight's FakeQuantize is read by its layer alone).
        while (true)
        {
            var read = nodes.SelectMany(node => node.Inputs).Append(quantized.Output).ToHashSet();
            int removed = nodes.RemoveAll(node => node is FakeQuantizeNode && !read.Contains(node.Output));
            if (removed == 0)
                break;
        }
        var used = nodes.SelectMany(node => node.Inputs).ToHashSet();
        var constants = quantized.Constants.Where(constant => used.Contains(constant.Name))
            .Select(constant => originals.Values.SelectMany(node => node.Inputs).Contains(constant.Name) && original.IsConstant(constant.Name)
                ? original.Constant(constant.Name)
                : constant)
            .ToList();
        return new ModelGraph(quantized.Name, quantized.Input, quantized.Output, nodes, constants, quantized.Metadata);
    }

    /// <summary>
    /// The computed inputs of an Add or Multiply that joins two computed values (the residual join, the
    /// squeeze-excitation scale), which POT's CPU configuration quantizes too; so ONNX Runtime can run the convolutions
    /// before them with int8 kernels. A constant operand (the input normalization) stays float.
    /// </summary>
    static IEnumerable<string> ElementwiseInputs(ModelGraph graph, GraphNode node) =>
        node is AddNode or MulNode && node.Inputs.All(input => !graph.IsConstant(input)) ? node.Inputs : [];

    static string LayerInput(GraphNode node) => node switch
    {
        ConvNode conv => conv.Input,
        LinearNode linear => linear.Input,
        _ => throw new ArgumentException($"{node.Name} is not a layer with weights."),
    };

    static string LayerWeight(GraphNode node) => node is ConvNode conv ? conv.Weight : ((LinearNode)node).Weight;

    static string? LayerBias(GraphNode node) => node is ConvNode conv ? conv.Bias : ((LinearNode)node).Bias;

    /// <summary>Per-tensor activation ranges: [0, mean abs-max] if never negative, else [-mean abs-max · 128/127, mean abs-max].</summary>
    static Dictionary<string, (float Low, float High)> MeasureRanges(GraphExecutor executor, List<string> inputs,
        IReadOnlyList<CalibrationBatch> calibration, IProgress<int>? progress)
    {
        var wanted = inputs.ToHashSet();
        var minimum = inputs.ToDictionary(name => name, _ => float.PositiveInfinity);
        var absMaxSum = inputs.ToDictionary(name => name, _ => 0.0);
        int done = 0;
        foreach (var batch in calibration)
        {
            executor.Run(batch.Input, batch.Batch, (name, value) =>
            {
                if (!wanted.Contains(name))
                    return;
                float min = TensorPrimitives.Min(value.Data), absMax = Math.Abs(TensorPrimitives.MaxMagnitude(value.Data));
                if (!float.IsFinite(min) || !float.IsFinite(absMax))
                    throw new InvalidDataException($"Calibration: value '{name}' is not finite; the float model or its input is broken.");
                minimum[name] = Math.Min(minimum[name], min);
                absMaxSum[name] += absMax;
            });
            progress?.Report(++done);
        }
        return inputs.ToDictionary(name => name, name =>
        {
            // A range of zero width cannot be quantized; such an input (all zeros) keeps a tiny one.
            float high = Math.Max((float)(absMaxSum[name] / calibration.Count), 1e-6f);
            return minimum[name] >= 0 ? (0f, high) : (-high * 128 / 127, high);
        });
    }

    static unsafe float[] Quantize(float[] values, (float Low, float High) range, int channels)
    {
        var result = new float[values.Length];
        float low = range.Low, high = range.High;
        fixed (float* y = result, x = values)
            Kernels.Cpu.FakeQuantize.Forward(y, x, &low, &high, 1, channels, values.LongLength, 256);
        return result;
    }

    /// <summary>Per output channel symmetric ranges [-max|w|, max|w|], shaped [C, 1, ...] to broadcast over the weight.</summary>
    static (float[] Low, float[] High, int[] Shape) QuantizeWeight(GraphConstant weight)
    {
        int outputs = weight.Shape[0], perOutput = (int)(weight.Length / outputs);
        var high = new float[outputs];
        for (int o = 0; o < outputs; o++)
            high[o] = Math.Max(Math.Abs(TensorPrimitives.MaxMagnitude(weight.Data.AsSpan(o * perOutput, perOutput))), 1e-12f);
        var shape = weight.Shape.Select((d, axis) => axis == 0 ? d : 1).ToArray();
        return ([.. high.Select(h => -h)], high, shape);
    }

    /// <summary>
    /// Fast bias correction: per output channel o, shift = Σ_i,t w[o,i,t] · E[x_i] - Σ_i,t q(w)[o,i,t] · E[q(x_i)],
    /// the float minus the quantized layer's response to its mean input (E over the calibration set and positions).
    /// </summary>
    static Dictionary<string, float[]> BiasShifts(ModelGraph graph, GraphExecutor executor, List<GraphNode> layers,
        Dictionary<string, (float Low, float High)> ranges, Dictionary<string, (float[] Low, float[] High, int[] Shape)> weightRanges,
        IReadOnlyList<CalibrationBatch> calibration, IProgress<int>? progress)
    {
        var inputs = layers.Where(layer => LayerBias(layer) is not null).Select(LayerInput).ToHashSet();
        var floatSums = new Dictionary<string, double[]>();
        var quantizedSums = new Dictionary<string, double[]>();
        var counts = new Dictionary<string, long>();
        int done = calibration.Count;
        foreach (var batch in calibration)
        {
            executor.Run(batch.Input, batch.Batch, (name, value) =>
            {
                if (!inputs.Contains(name))
                    return;
                int channels = value.Channels;
                var sum = floatSums.TryGetValue(name, out var s) ? s : floatSums[name] = new double[channels];
                var quantizedSum = quantizedSums.TryGetValue(name, out var q) ? q : quantizedSums[name] = new double[channels];
                var quantized = Quantize(value.Data, ranges[name], channels);
                for (long i = 0; i < value.Data.LongLength; i++)
                {
                    sum[i % channels] += value.Data[i];
                    quantizedSum[i % channels] += quantized[i];
                }
                counts[name] = counts.GetValueOrDefault(name) + value.Data.LongLength / channels;
            });
            progress?.Report(++done);
        }
        var shifts = new Dictionary<string, float[]>();
        foreach (var layer in layers.Where(layer => LayerBias(layer) is not null))
        {
            string input = LayerInput(layer);
            var weight = graph.Constant(LayerWeight(layer));
            var (low, high, _) = weightRanges[layer.Name];
            int outputs = weight.Shape[0], perOutput = (int)(weight.Length / outputs);
            int groupInputs = layer is ConvNode conv ? weight.Shape[1] : perOutput;
            int taps = perOutput / groupInputs;
            int groups = layer is ConvNode c ? c.Groups : 1;
            int outputsPerGroup = outputs / groups;
            var shift = new float[outputs];
            for (int o = 0; o < outputs; o++)
            {
                double difference = 0;
                for (int i = 0; i < groupInputs; i++)
                {
                    int channel = o / outputsPerGroup * groupInputs + i;
                    double floatMean = floatSums[input][channel] / counts[input];
                    double quantizedMean = quantizedSums[input][channel] / counts[input];
                    for (int t = 0; t < taps; t++)
                    {
                        float w = weight.Data[(o * groupInputs + i) * taps + t];
                        difference += w * floatMean - Kernels.Cpu.FakeQuantize.Apply(w, low[o], high[o], 255) * quantizedMean;
                    }
                }
                shift[o] = (float)difference;
            }
            shifts[layer.Name] = shift;
        }
        return shifts;
    }
}
