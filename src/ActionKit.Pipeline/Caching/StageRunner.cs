using ActionKit.Data;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Stages;

namespace ActionKit.Pipeline.Caching;

/// <summary>
/// Runs stages with DVC-like caching: <see cref="Plan"/> computes a stage's key and says whether its lock matches and
/// its outputs are intact; <see cref="Run"/> runs it in a work folder beside its outputs, moves the outputs into place
/// on success, and writes the lock last. A failed or cancelled run leaves the previous outputs as they were.
/// </summary>
/// <param name="graph">The stages, for their upstream locks.</param>
/// <param name="context">The pipeline the stages run in.</param>
/// <param name="code">The code the stages run: this process's by default (tests pass an edited one).</param>
public sealed class StageRunner(StageGraph graph, PipelineContext context, CodeIndex? code = null)
{
    private const string KeyFileName = ".key";
    private readonly ContentHasher hasher = new(context.StateFolder);
    private readonly CodeIndex code = code ?? CodeIndex.Loaded;

    public PipelineContext Context => context;

    /// <summary>Where <paramref name="stage"/> runs in this context: <c>HOME/.work/NAME</c>.</summary>
    public string WorkFolder(IStage stage) => WorkFolder(stage.Name, stage.Declare(context).Home);

    /// <summary>Where <paramref name="stage"/>'s lock lives in this context.</summary>
    public string LockPath(IStage stage) => LockPath(stage.Name, stage.Declare(context));

    /// <summary>Hashes what <paramref name="stage"/> reads and compares with its lock; <paramref name="force"/> plans a run regardless.</summary>
    public StagePlan Plan(IStage stage, bool force = false)
    {
        var declaration = stage.Declare(context);
        var fingerprint = new StageFingerprint(
            stage.Name,
            declaration.Upstream.ToDictionary(name => name, name => UpstreamKey(stage.Name, name)),
            declaration.Inputs.ToDictionary(context.DisplayPath, path => hasher.TryHash(path)
                    ?? throw new StageException(stage.Name, $"input {context.DisplayPath(path)} does not exist"))
                .Concat((declaration.Contents ?? new Dictionary<string, string>()).Select(content =>
                    KeyValuePair.Create(content.Key, ContentHasher.HashText(content.Value))))
                .ToDictionary(),
            declaration.Params.ToDictionary(key => key, key => ParamsLoader.Select(context.Params, key)),
            declaration.Code.ToDictionary(unit => unit, code.Hash),
            declaration.Packages.ToDictionary(package => package, code.PackageVersion));
        string? reason = force ? "forced" : WhyRun(stage.Name, declaration, fingerprint);
        return new StagePlan(stage, declaration, fingerprint, UpToDate: reason is null, reason ?? "up to date");
    }

    /// <summary>Runs a planned stage and records it; returns the new lock.</summary>
    public StageLock Run(StagePlan plan, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var (stage, declaration) = (plan.Stage, plan.Declaration);
        string workFolder = PrepareWorkFolder(stage.Name, declaration.Home, plan.Fingerprint.Key);
        stage.Run(context, workFolder, progress, cancellationToken);
        foreach (string output in declaration.Outputs)
        {
            string produced = Path.Combine(workFolder, output);
            if (!File.Exists(produced) && !Directory.Exists(produced))
                throw new StageException(stage.Name, $"the stage did not produce its output {output}");
        }
        cancellationToken.ThrowIfCancellationRequested();

        // The old lock goes first: if the moves below are interrupted, the next run sees no lock and runs again.
        string lockPath = LockPath(stage.Name, declaration);
        if (File.Exists(lockPath))
            File.Delete(lockPath);
        MoveIntoPlace(workFolder, declaration);
        var stageLock = new StageLock
        {
            Stage = stage.Name,
            Key = plan.Fingerprint.Key,
            ActionkitVersion = ActionKitVersion.Current,
            Upstream = new(plan.Fingerprint.Upstream.ToDictionary()),
            Inputs = new(plan.Fingerprint.Inputs.ToDictionary()),
            Params = new(plan.Fingerprint.Params.ToDictionary()),
            Code = new(plan.Fingerprint.Code.ToDictionary()),
            Packages = new(plan.Fingerprint.Packages.ToDictionary()),
            Outputs = new(declaration.Outputs.ToDictionary(
                output => context.DisplayPath(Path.Combine(declaration.Home, output)),
                output => hasher.TryHash(Path.Combine(declaration.Home, output))!)),
            Created = DateTimeOffset.UtcNow,
        };
        stageLock.Write(lockPath);
        Directory.Delete(workFolder, recursive: true);
        string workFolders = Path.GetDirectoryName(workFolder)!;
        if (!Directory.EnumerateFileSystemEntries(workFolders).Any())
            Directory.Delete(workFolders);
        return stageLock;
    }

    private static string WorkFolder(string stageName, string home) => Path.Combine(home, ".work", stageName);

    private static string LockPath(string stageName, StageDeclaration declaration) =>
        Path.Combine(declaration.Home, ".locks", stageName + ".json");

    private string UpstreamKey(string stageName, string upstreamName)
    {
        var upstream = graph[upstreamName];
        string lockPath = LockPath(upstream);
        return StageLock.TryRead(lockPath)?.Key
            ?? throw new StageException(stageName, $"upstream stage {upstreamName} has not run (no {context.DisplayPath(lockPath)}); run it first");
    }

    /// <summary>Why the stage must run, or null when its lock matches and its outputs are intact.</summary>
    private string? WhyRun(string stageName, StageDeclaration declaration, StageFingerprint fingerprint)
    {
        var previous = StageLock.TryRead(LockPath(stageName, declaration));
        if (previous is null)
            return "no lock: never ran here";
        if (previous.Key != fingerprint.Key)
        {
            var differences = fingerprint.DifferencesFrom(previous).ToList();
            return differences.Count > 0 ? string.Join("; ", differences) : "key changed";
        }
        var expected = declaration.Outputs.Select(output => context.DisplayPath(Path.Combine(declaration.Home, output))).ToHashSet();
        if (!expected.SetEquals(previous.Outputs.Keys))
            return "the declared outputs changed";
        foreach (string output in declaration.Outputs)
        {
            string path = Path.Combine(declaration.Home, output);
            string? hash = hasher.TryHash(path);
            if (hash is null)
                return $"output {context.DisplayPath(path)} is missing";
            if (hash != previous.Outputs[context.DisplayPath(path)])
                return $"output {context.DisplayPath(path)} was modified";
        }
        return null;
    }

    /// <summary>
    /// The stage's work folder, <c>HOME/.work/NAME</c>: kept when it holds an interrupted attempt with the same key
    /// (so the stage can resume), emptied otherwise.
    /// </summary>
    private static string PrepareWorkFolder(string stageName, string home, string key)
    {
        string workFolder = WorkFolder(stageName, home);
        string keyFile = Path.Combine(workFolder, KeyFileName);
        bool resumable = File.Exists(keyFile) && File.ReadAllText(keyFile).Trim() == key;
        if (!resumable && Directory.Exists(workFolder))
            Directory.Delete(workFolder, recursive: true);
        Directory.CreateDirectory(workFolder);
        File.WriteAllText(keyFile, key + "\n");
        return workFolder;
    }

    /// <summary>Renames each output from the work folder over its final place (same filesystem), old versions to a trash folder.</summary>
    private static void MoveIntoPlace(string workFolder, StageDeclaration declaration)
    {
        string trash = Path.Combine(workFolder, ".trash");
        foreach (string output in declaration.Outputs)
        {
            string produced = Path.Combine(workFolder, output);
            string target = Path.Combine(declaration.Home, output);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (File.Exists(target) || Directory.Exists(target))
            {
                string discarded = Path.Combine(trash, output);
                Directory.CreateDirectory(Path.GetDirectoryName(discarded)!);
                MovePath(target, discarded);
            }
            MovePath(produced, target);
        }
    }

    private static void MovePath(string source, string destination)
    {
        if (File.Exists(source))
            File.Move(source, destination);
        else
            Directory.Move(source, destination);
    }
}

/// <summary>A stage's plan in one context: what it declares, its fingerprint (and key), and whether it is up to date, with why not.</summary>
public sealed record StagePlan(IStage Stage, StageDeclaration Declaration, StageFingerprint Fingerprint, bool UpToDate, string Reason);
