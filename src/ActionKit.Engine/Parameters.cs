namespace ActionKit.Engine;

/// <summary>How a parameter's initial values are drawn.</summary>
public abstract record Initializer
{
    /// <summary>He/MSRA normal with fan-out (Caffe2's msra_fill, as pytorchvideo initializes X3D's convolutions).</summary>
    public sealed record KaimingNormalFanOut : Initializer;

    /// <summary>Normal with mean 0 and the given standard deviation.</summary>
    public sealed record Normal(double Std) : Initializer;

    /// <summary>Every element the same value.</summary>
    public sealed record Constant(float Value) : Initializer;

    internal float[] Draw(int[] shape, DeterministicRandom random)
    {
        var values = new float[Tensor.ElementCount(shape)];
        switch (this)
        {
            case Constant c:
                Array.Fill(values, c.Value);
                break;
            case Normal n:
                for (int i = 0; i < values.Length; i++)
                    values[i] = (float)(random.NextGaussian() * n.Std);
                break;
            case KaimingNormalFanOut:
                long receptive = Tensor.ElementCount(shape[2..]);
                double std = Math.Sqrt(2.0 / (shape[0] * receptive));
                for (int i = 0; i < values.Length; i++)
                    values[i] = (float)(random.NextGaussian() * std);
                break;
        }
        return values;
    }
}

/// <summary>
/// A named model tensor in PyTorch's layout and naming (state_dict keys such as <c>blocks.3.b.weight</c>).
/// Trainable parameters have a gradient; buffers (BN running statistics) do not.
/// </summary>
public sealed class Parameter
{
    Tensor? value, gradient;

    internal Parameter(string name, int[] shape, Initializer initializer, bool trainable)
    {
        Name = name;
        Shape = shape;
        Initializer = initializer;
        Trainable = trainable;
    }

    public string Name { get; }
    public int[] Shape { get; }
    public bool Trainable { get; }
    public long Length => Tensor.ElementCount(Shape);
    internal Initializer Initializer { get; }

    public Tensor Value => value ?? throw new InvalidOperationException($"Parameter {Name} is used before its store was allocated.");
    public Tensor Gradient => gradient ?? throw new InvalidOperationException($"{Name} has no gradient (a buffer, or the store is not allocated).");

    internal void Bind(Tensor valueView, Tensor? gradientView)
    {
        value = valueView;
        gradient = gradientView;
    }
}

/// <summary>An integer counter saved with the model (BatchNorm's num_batches_tracked, an int64 in PyTorch).</summary>
public sealed class Counter(string name)
{
    public string Name { get; } = name;
    public long Value { get; set; }
}

/// <summary>
/// All of a model's parameters in one allocation (trainable values, then buffers) and all gradients in another, with
/// named views into them, as llm.c keeps them: the optimizer and gradient clipping run once over the flat buffers.
/// </summary>
public sealed class ParameterStore : IDisposable
{
    readonly List<Parameter> parameters = [];
    readonly List<Counter> counters = [];
    Tensor? values, gradients;

    public IReadOnlyList<Parameter> Parameters => parameters;
    public IReadOnlyList<Counter> Counters => counters;
    public IEnumerable<Parameter> Trainable => parameters.Where(p => p.Trainable);
    public long TrainableCount => Trainable.Sum(p => p.Length);

    /// <summary>The flat buffer of all trainable values (the first <see cref="TrainableCount"/> floats).</summary>
    public Tensor TrainableValues => values?.View(0, (int)TrainableCount) ?? throw NotAllocated();

    /// <summary>The flat buffer of all gradients, in the same order as <see cref="TrainableValues"/>.</summary>
    public Tensor Gradients => gradients ?? throw NotAllocated();

    public Parameter Add(string name, int[] shape, Initializer initializer) => Register(name, shape, initializer, trainable: true);

    public Parameter AddBuffer(string name, int[] shape, float initialValue) =>
        Register(name, shape, new Initializer.Constant(initialValue), trainable: false);

    public Counter AddCounter(string name)
    {
        EnsureUnique(name);
        var counter = new Counter(name);
        counters.Add(counter);
        return counter;
    }

    /// <summary>Allocates the two buffers on <paramref name="backend"/> and draws initial values from <paramref name="seed"/> in registration order.</summary>
    public void Allocate(IBackend backend, ulong seed)
    {
        if (values is not null)
            throw new InvalidOperationException("The parameter store is already allocated.");
        long trainable = TrainableCount, total = parameters.Sum(p => p.Length);
        values = backend.Allocate(checked((int)total));
        gradients = backend.Allocate(checked((int)trainable));
        long valueOffset = 0, bufferOffset = trainable;
        var random = new DeterministicRandom(seed);
        foreach (var p in parameters)
        {
            long offset = p.Trainable ? valueOffset : bufferOffset;
            p.Bind(values.View(offset, p.Shape), p.Trainable ? gradients.View(offset, p.Shape) : null);
            p.Value.CopyFrom(p.Initializer.Draw(p.Shape, random));
            if (p.Trainable)
                valueOffset += p.Length;
            else
                bufferOffset += p.Length;
        }
    }

    public void ZeroGradients() => Gradients.Backend.Fill(Gradients, 0);

    public Parameter this[string name] => parameters.FirstOrDefault(p => p.Name == name)
        ?? throw new KeyNotFoundException($"No parameter named {name}.");

    Parameter Register(string name, int[] shape, Initializer initializer, bool trainable)
    {
        if (values is not null)
            throw new InvalidOperationException($"Cannot add {name}: the store is already allocated.");
        EnsureUnique(name);
        var parameter = new Parameter(name, shape, initializer, trainable);
        parameters.Add(parameter);
        return parameter;
    }

    void EnsureUnique(string name)
    {
        if (parameters.Any(p => p.Name == name) || counters.Any(c => c.Name == name))
            throw new ArgumentException($"Duplicate parameter name {name}.");
    }

    static InvalidOperationException NotAllocated() => new("The parameter store is not allocated yet.");

    public void Dispose()
    {
        values?.Dispose();
        gradients?.Dispose();
    }
}
