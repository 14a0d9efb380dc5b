using ActionKit.Data;

namespace ActionKit.Pipeline.Stages;

/// <summary>
/// One cached step of the pipeline. It declares what it reads and writes in a context; <see cref="Caching.StageRunner"/>
/// decides whether to run it, and moves its outputs into place only when <see cref="Run"/> succeeds.
/// </summary>
public interface IStage
{
    /// <summary>Lower-case name: the lock's file name, the dvc.yaml stage and the CLI verb.</summary>
    string Name { get; }

    /// <summary>What this stage reads and writes when run in <paramref name="context"/>.</summary>
    StageDeclaration Declare(PipelineContext context);

    /// <summary>
    /// Produces every declared output under <paramref name="workFolder"/>, at the same relative path it has under the
    /// declaration's home. The folder may hold a previous interrupted attempt with the same key, to resume from.
    /// </summary>
    void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken);
}

/// <summary>
/// What a stage reads and writes: the stage's key is a hash of its upstream stages' keys, its inputs' contents, the
/// values of its params and the code it runs; its outputs are checked against the hashes its lock recorded.
/// </summary>
/// <param name="Home">The folder that holds the outputs, the lock (<c>.locks/NAME.json</c>) and the work folder (<c>.work/NAME/</c>).</param>
/// <param name="Outputs">Files or folders, relative to <paramref name="Home"/>.</param>
/// <param name="Inputs">Absolute paths of files or folders hashed by content.</param>
/// <param name="Params">Dotted keys (<c>data.split</c>) or whole sections (<c>synth</c>) of params.yaml.</param>
/// <param name="Upstream">Names of the stages whose keys enter this one's.</param>
/// <param name="Code">The ActionKit code the stage runs itself, as <see cref="Caching.CodeIndex"/> units
/// (<c>ActionKit.Kernels</c>, <c>ActionKit.Pipeline/Training</c>); its upstream stages' code reaches it through their keys.</param>
/// <param name="Packages">The NuGet packages whose behaviour the stage's outputs depend on; their versions enter the key.</param>
/// <param name="Contents">What the stage reads that is not a file (a built-in template's resolved text), by name;
/// hashed into the key like an input.</param>
public sealed record StageDeclaration(
    string Home,
    IReadOnlyList<string> Outputs,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Params,
    IReadOnlyList<string> Upstream,
    IReadOnlyList<string> Code,
    IReadOnlyList<string> Packages,
    IReadOnlyDictionary<string, string>? Contents = null);
