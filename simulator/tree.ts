/** The simulated file system: directories and files with Qumulo-style ids (~30-digit decimal strings). */

export interface FileNode {
  kind: 'file'
  name: string
  /** Absolute path, no trailing slash. */
  path: string
  id: string
}

export interface DirNode {
  kind: 'dir'
  name: string
  /** Absolute path without trailing slash, `/` for the root. */
  path: string
  id: string
  children: Map<string, DirNode>
  files: FileNode[]
  /** Next number for a file name in this directory (`f0000.bin`, `f0001.bin`…). */
  nextFile: number
}

export interface Tree {
  root: DirNode
  /** Every live object (directories and files) by id; deleted files are absent. */
  byId: Map<string, DirNode | FileNode>
  /** Every directory by path (no trailing slash). */
  byPath: Map<string, DirNode>
  /** The directory at `path`, created with its ancestors when missing. */
  ensureDir(path: string): DirNode
  /** Allocates `count` new file ids in `dir`; deleted files get ids but are not in the tree. */
  addFiles(dir: DirNode, count: number, deleted: boolean): string[]
}

/** Low 12 digits of the root id, after a recorded root (`131072291465916581209155043330`). */
const FIRST_ID = 209155043330

export function createTree(idPrefix: string): Tree {
  let next = FIRST_ID
  const allocate = () => idPrefix + String(next++).padStart(12, '0')
  const root = newDir('', '/', allocate())
  const byId = new Map<string, DirNode | FileNode>([[root.id, root]])
  const byPath = new Map<string, DirNode>([['/', root]])

  const child = (parent: DirNode, name: string): DirNode => {
    let dir = parent.children.get(name)
    if (!dir) {
      dir = newDir(name, parent.path === '/' ? `/${name}` : `${parent.path}/${name}`, allocate())
      parent.children.set(name, dir)
      byId.set(dir.id, dir)
      byPath.set(dir.path, dir)
    }
    return dir
  }

  return {
    root,
    byId,
    byPath,
    ensureDir: (path) => path.split('/').filter(Boolean).reduce(child, root),
    addFiles: (dir, count, deleted) =>
      Array.from({ length: count }, () => {
        const name = `f${String(dir.nextFile++).padStart(4, '0')}.bin`
        const file: FileNode = { kind: 'file', name, path: dir.path === '/' ? `/${name}` : `${dir.path}/${name}`, id: allocate() }
        if (!deleted) {
          dir.files.push(file)
          byId.set(file.id, file)
        }
        return file.id
      }),
  }
}

function newDir(name: string, path: string, id: string): DirNode {
  return { kind: 'dir', name, path, id, children: new Map(), files: [], nextFile: 0 }
}

/** The path `/v1/files/resolve` returns: directories end with `/`, unknown ids give `""`. */
export function resolvedPath(tree: Tree, id: string): string {
  const node = tree.byId.get(id)
  if (!node) return ''
  return node.kind === 'dir' && node.path !== '/' ? node.path + '/' : node.path
}
