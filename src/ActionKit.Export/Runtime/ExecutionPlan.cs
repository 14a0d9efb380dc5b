using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ActionKit.Export.Graph;

namespace ActionKit.Export.Runtime;

/// <summary>
/// The constants a <see cref="GraphExecutor"/> reads, pinned once (quantized weights folded through their
/// FakeQuantize), and the shape of every value with the batch left as -1.
/// </summary>
sealed unsafe class ExecutionContext
{
    readonly Dictionary<string, float[]> constants = [];
    readonly Dictionary<string, int[]> constantShapes = [];
    readonly Dictionary<(string, int), float[]> perChannel = [];

    public ExecutionContext(ModelGraph graph)
    {
        Shapes = ShapeInference.Infer(graph);
        foreach (var constant in graph.Constants)
        {
            constants[constant.Name] = Pinned(constant.Data);
            constantShapes[constant.Name] = constant.Shape;
        }
        foreach (var node in graph.Nodes.OfType<FakeQuantizeNode>().Where(node => constants.ContainsKey(node.Input)))
        {
            var weight = constants[node.Input];
            var folded = GC.AllocateUninitializedArray<float>(weight.Length, pinned: true);
            // A weight's ranges are per output channel (axis 0): [C, 1, ...], or [1] for the whole tensor.
            var low = constants[node.Low];
            var high = constants[node.High];
            int perRange = weight.Length / low.Length;
            for (int i = 0; i < weight.Length; i++)
                folded[i] = Kernels.Cpu.FakeQuantize.Apply(weight[i], low[i / perRange], high[i / perRange], node.Levels);
            constants[node.Output] = folded;
            constantShapes[node.Output] = constantShapes[node.Input];
        }
    }

    public IReadOnlyDictionary<string, int[]> Shapes { get; }

    public bool IsConstant(string name) => constants.ContainsKey(name);

    public float* Pointer(string name) => Address(constants[name]);

    public int[] ConstantShape(string name) => constantShapes[name];

    public float[] Data(string name) => constants[name];

    /// <summary>A constant read per channel ([1], [C] or [1, C, 1, ...]) as C values, pinned; null stands for <paramref name="fill"/>.</summary>
    public float* PerChannel(string? name, int channels, float fill)
    {
        string key = name ?? $"#{fill}";
        if (!perChannel.TryGetValue((key, channels), out var values))
        {
            var source = name is null ? [fill] : constants[name];
            if (source.Length != 1 && source.Length != channels)
                throw new NotSupportedException($"constant '{name}' has {source.Length} values, neither one nor one per channel of {channels}");
            values = Pinned(source.Length == 1 ? Enumerable.Repeat(source[0], channels).ToArray() : source);
            perChannel[(key, channels)] = values;
        }
        return Address(values);
    }

    public static float* Address(float[] pinned) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    static float[] Pinned(float[] values)
    {
        var pinned = GC.AllocateUninitializedArray<float>(values.Length, pinned: true);
        values.CopyTo(pinned, 0);
        return pinned;
    }
}

/// <summary>Where a value lives in a plan's arena (in floats), and its shape in N C ... order.</summary>
readonly record struct Slot(long Offset, long Length, int[] Shape)
{
    public int Channels => Shape.Length >= 2 ? Shape[1] : 1;
    public long Positions => Shape.Length <= 2 ? 1 : Shape.Skip(2).Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// The steps of one run at one batch size with every value placed in one arena: a value's floats are reused once
/// its last reader has run (first fit, 64-byte aligned); an output never shares floats with the inputs of its step.
/// </summary>
sealed unsafe class ExecutionPlan
{
    const int Alignment = 16;
    readonly ExecutionContext context;
    readonly Dictionary<string, Slot> slots = [];
    readonly Dictionary<ExecutionStep, Slot> scratch = [];
    readonly float[] arena;
    readonly float* origin;

    public ExecutionPlan(ModelGraph graph, ExecutionContext context, IReadOnlyList<ExecutionStep> steps, int batch, string fed)
    {
        this.context = context;
        Steps = steps;
        int[] Shape(string value) => [.. context.Shapes[value].Select(dim => dim < 0 ? batch : dim)];

        // Aliases (a Reshape that leaves the channels-last data as it is) share their source's floats.
        var root = new Dictionary<string, string>();
        string Root(string value) => root.TryGetValue(value, out var source) ? Root(source) : value;
        foreach (var step in steps)
            if (step.AliasOf is { } source)
                root[step.Output] = source;
        var lastUse = new Dictionary<string, int> { [Root(graph.Output)] = int.MaxValue };
        for (int i = 0; i < steps.Count; i++)
            foreach (var input in steps[i].Inputs.Where(input => !context.IsConstant(input)))
                lastUse[Root(input)] = Math.Max(lastUse.GetValueOrDefault(Root(input)), i);

        var live = new List<(long Offset, long Length, string Value)>();
        long size = 0;
        long Place(string value, long length)
        {
            long offset = 0, aligned = (length + Alignment - 1) / Alignment * Alignment;
            foreach (var block in live.OrderBy(block => block.Offset))
            {
                if (offset + aligned <= block.Offset)
                    break;
                offset = Math.Max(offset, block.Offset + (block.Length + Alignment - 1) / Alignment * Alignment);
            }
            live.Add((offset, length, value));
            size = Math.Max(size, offset + aligned);
            return offset;
        }
        var fedShape = Shape(fed);
        slots[fed] = new Slot(Place(fed, Count(fedShape)), Count(fedShape), fedShape);
        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var shape = Shape(step.Output);
            long length = step.StoresCodes ? Int8ConvStep.CodeFloats(Count(shape)) : Count(shape);
            slots[step.Output] = step.AliasOf is { } source
                ? slots[source] with { Shape = shape }
                : new Slot(Place(step.Output, length), length, shape);
            long scratchLength = step.ScratchLength(this);
            if (scratchLength > 0)
                scratch[step] = new Slot(Place(step.Output + "#scratch", scratchLength), scratchLength, [(int)scratchLength]);
            live.RemoveAll(block => block.Value == step.Output + "#scratch" || lastUse.GetValueOrDefault(block.Value, -1) <= i);
        }
        // Offsets are whole 64-byte lines from the origin, and the origin is on a line too (a pinned array is only
        // 16-byte aligned): a vector load never straddles two cache lines, as in the engine's aligned tensors.
        arena = GC.AllocateUninitializedArray<float>(checked((int)Math.Max(size, 1) + Alignment), pinned: true);
        float* start = ExecutionContext.Address(arena);
        origin = start + (Alignment - (int)((nuint)start % (Alignment * sizeof(float))) / sizeof(float)) % Alignment;
    }

    public IReadOnlyList<ExecutionStep> Steps { get; }

    public ExecutionContext Context => context;

    public Slot Slot(string value) => slots[value];

    /// <summary>A value's shape, or a constant's.</summary>
    public int[] Shape(string value) => slots.TryGetValue(value, out var slot) ? slot.Shape : context.ConstantShape(value);

    public float* Pointer(string value) => context.IsConstant(value) ? context.Pointer(value) : origin + slots[value].Offset;

    public float* Pointer(Slot slot) => origin + slot.Offset;

    public float* Scratch(ExecutionStep step) => origin + scratch[step].Offset;

    public Span<float> Span(Slot slot) => new(origin + slot.Offset, checked((int)slot.Length));

    /// <summary>A copy of a value as the executor's observers see it.</summary>
    public GraphExecutor.Value Copy(string value) => new(slots[value].Shape, Span(slots[value]).ToArray());

    static long Count(int[] shape) => shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>Moves values between the graph's N C ... order and the executor's channels-last N ... C.</summary>
static class Layout
{
    /// <summary>A new array holding <paramref name="source"/> in the other layout (a copy for ranks below 3, where both agree).</summary>
    public static float[] Transposed(ReadOnlySpan<float> source, int[] shape, bool toChannelsLast)
    {
        var result = new float[source.Length];
        Transpose(source, result, shape, toChannelsLast);
        return result;
    }

    /// <summary><paramref name="source"/> into <paramref name="destination"/> in the other layout, one clip and channel at a time.</summary>
    public static void Transpose(ReadOnlySpan<float> source, Span<float> destination, int[] shape, bool toChannelsLast)
    {
        if (shape.Length < 3 || shape[1] == 1)
        {
            source.CopyTo(destination);
            return;
        }
        int batch = shape[0], channels = shape[1];
        // A span holds at most int.MaxValue elements, so int indices reach them all.
        int positions = source.Length / batch / channels;
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
            {
                int logical = (n * channels + c) * positions, last = n * positions * channels + c;
                if (toChannelsLast)
                    for (int s = 0; s < positions; s++)
                        destination[last + s * channels] = source[logical + s];
                else
                    for (int s = 0; s < positions; s++)
                        destination[logical + s] = source[last + s * channels];
            }
    }

    /// <summary>Whether two shapes of the same values lay them out alike channels-last (one of them has one position, or one channel).</summary>
    public static bool SameChannelsLast(int[] a, int[] b) => Ordered(a) && Ordered(b);

    /// <summary>A shape whose channels-last data is also its N C ... data.</summary>
    static bool Ordered(int[] shape) => shape.Length < 3 || shape[1] == 1 || shape.Skip(2).All(dim => dim == 1);
}
