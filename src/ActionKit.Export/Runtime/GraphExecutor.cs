using System.Diagnostics;
using ActionKit.Export.Graph;

namespace ActionKit.Export.Runtime;

/// <summary>
/// Runs a <see cref="ModelGraph"/> on the CPU with the engine's kernels: ActionKit's own runtime for the models it
/// writes (an OpenVINO IR read back, a quantized graph with FakeQuantize) and the quantizer's statistics pass.
/// The graph is compiled once into steps with each convolution fused with its bias and activation, a residual Add
/// with its ReLU, the squeeze-excitation scale with its Swish and the input normalization into one per-channel
/// scale and shift; each batch size gets a plan, made once, that places every value in one arena by its lifetime.
/// Values are kept channels-last, as the kernels want them; the input and the output are in the graph's N C ...
/// order, or the input channels-last as the loader gives it (<see cref="RunChannelsLast"/>). FakeQuantize on a
/// constant (a quantized weight) is folded once, when the executor is built. In a quantized graph the pointwise and
/// depthwise convolutions run in integers (<see cref="Int8ConvStep"/>), the squeeze-excitation gate with both its
/// FakeQuantizes in one pass, and values that only integer layers read travel as 8-bit codes, unless the caller
/// observes values. Not thread-safe: one Run at a time.
/// </summary>
public sealed class GraphExecutor
{
    readonly ModelGraph graph;
    readonly ExecutionContext context;
    readonly IReadOnlyList<ExecutionStep> fused;
    readonly IReadOnlyList<ExecutionStep> unfused;
    readonly Dictionary<(int Batch, bool Observed, bool ChannelsLast), ExecutionPlan> plans = [];

    /// <summary>
    /// Compiles <paramref name="graph"/>; with <paramref name="integer"/>, the quantized pointwise and depthwise convolutions of a
    /// quantized graph run in integers (<see cref="IntegerLayers"/>), and those that cannot are named in <see cref="Notice"/>.
    /// </summary>
    public GraphExecutor(ModelGraph graph, bool integer = true)
    {
        this.graph = graph;
        context = new ExecutionContext(graph);
        var notices = new List<string>();
        unfused = StepCompiler.Compile(graph, context, fuse: false, integer: false, notices);
        fused = StepCompiler.Compile(graph, context, fuse: true, integer, notices);
        IntegerLayers = fused.Count(step => step is Int8ConvStep);
        CodeValues = fused.Count(step => step.StoresCodes);
        if (notices.Count > 0)
            Notice = $"Graph '{graph.Name}': {notices.Count} quantized layer(s) run in float arithmetic on the FakeQuantize grid, not in integers; {notices[0]}.";
    }

    /// <summary>How many layers run in integers.</summary>
    public int IntegerLayers { get; }

    /// <summary>How many values travel between integer layers as 8-bit codes rather than floats.</summary>
    public int CodeValues { get; }

    /// <summary>One line naming the quantized layers the integer path cannot run (they run in float), or null.</summary>
    public string? Notice { get; }

    /// <summary>While set, every run adds each step's time to <see cref="StepSeconds"/> under its kind.</summary>
    public bool Profiling { get; set; }

    /// <summary>Seconds spent per kind of step ("depthwise conv", "int8 pointwise conv", ...) over the profiled runs.</summary>
    public IReadOnlyDictionary<string, double> StepSeconds => stepSeconds;

    readonly Dictionary<string, double> stepSeconds = [];

    /// <summary>A value as the executor holds it: logical shape in N C ... order, data channels-last.</summary>
    public readonly record struct Value(int[] Shape, float[] Data)
    {
        public int Channels => Shape.Length >= 2 ? Shape[1] : 1;
        public long Positions => Shape.Length <= 2 ? 1 : Shape.Skip(2).Aggregate(1L, (a, b) => a * b);
    }

    /// <summary>
    /// Runs the graph on <paramref name="input"/> (the graph input's layout, e.g. [N, 1, 3, T, H, W], with the
    /// batch <paramref name="batch"/>) and returns the output [N, classes]. <paramref name="observe"/> sees the
    /// input and every value the graph computes, by name, as it is computed (then nothing is fused).
    /// </summary>
    public float[] Run(ReadOnlySpan<float> input, int batch, Action<string, Value>? observe = null)
    {
        var plan = Plan(batch, observe is not null, channelsLast: false);
        var slot = plan.Slot(graph.Input.Name);
        if (input.Length != slot.Length)
            throw new ArgumentException($"Graph '{graph.Name}' expects input {ShapeInference.Format(slot.Shape)} ({slot.Length} values), got {input.Length}.");
        Layout.Transpose(input, plan.Span(slot), slot.Shape, toChannelsLast: true);
        return Execute(plan, graph.Input.Name, observe);
    }

    /// <summary>
    /// Runs the graph on clips [N, T, H, W, C] as the loader lays them out, for a graph whose first node drops the
    /// clips axis of its input [N, 1, C, T, H, W] (every ActionKit model): no transposes before the first convolution.
    /// </summary>
    public float[] RunChannelsLast(ReadOnlySpan<float> clips, int batch)
    {
        string fed = StepCompiler.ChannelsLastInput(graph)
            ?? throw new NotSupportedException($"Graph '{graph.Name}' does not start by dropping a clips axis of 1; give it its input in N C ... order.");
        var plan = Plan(batch, observed: false, channelsLast: true);
        var slot = plan.Slot(fed);
        if (clips.Length != slot.Length)
            throw new ArgumentException($"Graph '{graph.Name}' expects clips {ShapeInference.Format(slot.Shape)} channels-last ({slot.Length} values), got {clips.Length}.");
        clips.CopyTo(plan.Span(slot));
        return Execute(plan, fed, observe: null);
    }

    ExecutionPlan Plan(int batch, bool observed, bool channelsLast)
    {
        if (batch < 1)
            throw new ArgumentException($"Graph '{graph.Name}': the batch must be at least 1, not {batch}.");
        if (!plans.TryGetValue((batch, observed, channelsLast), out var plan))
        {
            // One plan is kept at a time per kind of run: a new batch size replaces the arena rather than adding one.
            foreach (var key in plans.Keys.Where(key => key.Observed == observed && key.ChannelsLast == channelsLast).ToList())
                plans.Remove(key);
            var steps = observed ? unfused : fused;
            plan = plans[(batch, observed, channelsLast)] = new ExecutionPlan(graph, context, channelsLast ? steps.Skip(1).ToList() : steps, batch,
                channelsLast ? StepCompiler.ChannelsLastInput(graph)! : graph.Input.Name);
        }
        return plan;
    }

    float[] Execute(ExecutionPlan plan, string fed, Action<string, Value>? observe)
    {
        if (observe is not null)
            observe(fed, plan.Copy(fed));
        foreach (var step in plan.Steps)
        {
            long start = Profiling ? Stopwatch.GetTimestamp() : 0;
            try
            {
                step.Run(plan);
            }
            catch (Exception error) when (error is ArgumentException or NotSupportedException)
            {
                throw new NotSupportedException($"Graph '{graph.Name}', node '{step.Name}': {error.Message}", error);
            }
            if (Profiling)
                stepSeconds[step.Kind(plan)] = stepSeconds.GetValueOrDefault(step.Kind(plan)) + Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (observe is not null)
                observe(step.Output, plan.Copy(step.Output));
        }
        var output = plan.Slot(graph.Output);
        return Layout.Transposed(plan.Span(output), output.Shape, toChannelsLast: false);
    }

    /// <summary>N C D H W (or any N C ...) order to channels-last N D H W C; ranks below 3 are unchanged.</summary>
    public static float[] ToChannelsLast(ReadOnlySpan<float> logical, int[] shape) => Layout.Transposed(logical, shape, toChannelsLast: true);

    /// <summary>The inverse of <see cref="ToChannelsLast"/>.</summary>
    public static float[] ToLogical(ReadOnlySpan<float> channelsLast, int[] shape) => Layout.Transposed(channelsLast, shape, toChannelsLast: false);
}
